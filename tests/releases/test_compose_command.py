"""manage.py compose TREEFILE [--wait]."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from kinoite_portal.releases.models import Compose, Treefile, TreefileRevision
from tests.releases.conftest import REF_STABLE, treefile_content
from tests.services import PROJECT_DIR, child_environment


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_wait_streams_the_log_and_reports_the_commit(treefile, stages, celery_worker, capsys) -> None:
    call_command("compose", "kinoite", "--wait", "--wait-timeout=60")

    out = capsys.readouterr().out
    compose = Compose.objects.get()
    assert out.startswith(f"Compose #{compose.pk} of kinoite r1 queued\n")
    assert "[succeeded]" in out
    assert "+ ostree commit" in out
    assert "Succeeded: 41." in out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary == {"compose": compose.pk, "state": "succeeded", "reason": "", "commit": compose.commit.checksum}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_failed_compose_exits_non_zero_with_the_reason(stages, start_worker, tmp_path) -> None:
    start_worker(queues="compose")
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(treefile_content(packages=["kernel", "no-such-package"])))

    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "compose",
            str(path),
            f"--published-ref={REF_STABLE}",
            "--wait",
            "--wait-timeout=60",
        ],
        cwd=PROJECT_DIR,
        env=child_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "error: Packages not found: no-such-package" in result.stdout
    assert "failed: depsolve failed: Packages not found: no-such-package" in result.stderr
    assert Compose.objects.get().state == Compose.State.FAILED


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "schedule", "message"),
    [
        ('{"ref": "fedora/x86_64/kinoite/dev", "packages": ["git",]}', "", "malformed JSON at line 1"),
        (
            json.dumps(treefile_content(packges=["git"])),
            "",
            "unknown treefile key 'packges' (did you mean 'packages'?)",
        ),
        (json.dumps(treefile_content(selinux="on")), "", "'selinux' must be true or false"),
        (json.dumps(treefile_content(ref="fedora//dev")), "", "'ref' is not a valid ostree ref"),
        (json.dumps(treefile_content(packages=[])), "", "'packages' is empty"),
        (json.dumps(treefile_content()), "at 2am", "is not a cron expression"),
    ],
)
def test_bad_treefile_files_are_refused_and_nothing_is_saved(stages, tmp_path, text, schedule, message) -> None:
    path = tmp_path / "kinoite.json"
    path.write_text(text)

    with pytest.raises(CommandError) as caught:
        call_command("compose", str(path), f"--published-ref={REF_STABLE}", f"--schedule={schedule}")

    assert str(caught.value).startswith("treefile not saved:")
    assert message in str(caught.value)
    assert not Treefile.objects.exists()
    assert not TreefileRevision.objects.exists()
    assert not Compose.objects.exists()


@pytest.mark.django_db
def test_an_unknown_treefile_name_is_refused(stages) -> None:
    with pytest.raises(CommandError, match="no treefile named 'nope'"):
        call_command("compose", "nope")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_wait_says_that_no_worker_listens_on_the_compose_queue_instead_of_waiting_forever(
    treefile, start_worker
) -> None:
    from django.conf import settings

    start_worker(queues="default,repo")  # a worker runs, but none takes composes

    result = subprocess.run(
        [sys.executable, "manage.py", "compose", "kinoite", "--wait"],
        cwd=PROJECT_DIR,
        env=child_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )

    compose = Compose.objects.get()
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f"compose #{compose.pk} is still queued: no worker is listening on the compose queue of "
        f"{settings.CELERY_BROKER_URL}; is the worker running? (it stays queued and runs once a worker starts)"
    ) in result.stderr
    assert compose.state == Compose.State.QUEUED


@pytest.mark.django_db
def test_wait_timeout_must_be_positive_and_nothing_is_queued(treefile) -> None:
    with pytest.raises(CommandError, match="--wait-timeout must be a positive number of seconds"):
        call_command("compose", "kinoite", "--wait", "--wait-timeout=0")
    assert not Compose.objects.exists()
