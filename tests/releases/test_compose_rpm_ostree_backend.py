"""The rpm-ostree backend: its command line, its output and its failures.

rpm-ostree cannot run on Debian, so these tests put a clearly labelled MOCK ``rpm-ostree`` on PATH
(tests/releases/fake_rpm_ostree.py). Everything else (ostree, the database, the lock, the log) is real.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from pathlib import Path

import pytest

from kinoite_portal.ostree import Repo
from kinoite_portal.releases.models import Compose, RefUpdate
from kinoite_portal.releases.services.composes import compose_cancel, compose_request, compose_run
from tests.releases.conftest import REF_DEV
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def use_fake(monkeypatch, fake_rpm_ostree):
    def use(mode: str = "ok", **extra: str):
        for key, value in fake_rpm_ostree.env(mode, **extra).items():
            monkeypatch.setenv(key, value)
        return fake_rpm_ostree

    return use


def rpm_ostree_compose(treefile, **kwargs) -> Compose:
    compose = compose_request(treefile=treefile, backend="rpm-ostree", enqueue=False)
    return compose_run(compose_id=compose.pk, **kwargs)


def test_it_runs_compose_tree_with_repo_cachedir_commitid_and_unified_core(treefile, stages, use_fake, settings):
    fake = use_fake("ok")

    compose = rpm_ostree_compose(treefile)

    assert compose.state == Compose.State.SUCCEEDED, compose.log
    [argv] = fake.calls()
    assert argv[:3] == ["compose", "tree", "--unified-core"]
    assert f"--repo={stages['dev'].repo_dir}" in argv
    cachedir = settings.PORTAL_COMPOSE_WORKDIR / "cache" / "fedora_x86_64_kinoite_dev"
    assert f"--cachedir={cachedir}" in argv
    assert argv[-2] == f"--write-commitid-to={settings.PORTAL_COMPOSE_WORKDIR / f'compose-{compose.pk}' / 'commitid'}"
    assert argv[-1].endswith(f"compose-{compose.pk}/treefile.json")
    # Its output streamed into the job log, after the command line.
    assert "+ rpm-ostree compose tree --unified-core" in compose.log
    assert "Downloading metadata: fedora, fedora-updates" in compose.log
    head = Repo(stages["dev"].repo_dir).resolve(REF_DEV)
    assert compose.commit.checksum == head
    assert compose.commit.package_count == 3
    assert RefUpdate.objects.get(commit=compose.commit).source == "compose"


def test_no_apparent_changes_ends_unchanged(treefile, stages, use_fake):
    use_fake("ok")
    first = rpm_ostree_compose(treefile)
    use_fake("nochange")

    second = rpm_ostree_compose(treefile)

    assert second.state == Compose.State.UNCHANGED
    assert Repo(stages["dev"].repo_dir).resolve(REF_DEV) == first.commit.checksum


def test_a_depsolve_error_fails_with_the_error_line_and_keeps_the_log(treefile, stages, use_fake):
    use_fake("depsolve")

    compose = rpm_ostree_compose(treefile)

    assert compose.state == Compose.State.FAILED
    assert (
        compose.failure_reason == "rpm-ostree compose tree failed (exit 1): error: Packages not found: no-such-package"
    )
    assert "Downloading metadata" in compose.log
    assert "! exit 1" in compose.log
    assert Repo(stages["dev"].repo_dir).resolve(REF_DEV) is None


def test_a_compose_that_runs_past_its_timeout_is_killed_and_fails(treefile, stages, use_fake):
    use_fake("hang")

    compose = rpm_ostree_compose(treefile, timeout=1.5)

    assert compose.state == Compose.State.FAILED
    assert compose.failure_reason == "rpm-ostree compose tree timed out after 1.5 s and was killed"
    assert "Installing 1623 packages" in compose.log
    assert Repo(stages["dev"].repo_dir).resolve(REF_DEV) is None


def test_a_killed_rpm_ostree_fails_the_compose_with_the_signal(treefile, stages, use_fake):
    fake = use_fake("hang")
    compose = compose_request(treefile=treefile, backend="rpm-ostree", enqueue=False)
    runner = threading.Thread(target=compose_run, kwargs={"compose_id": compose.pk})
    runner.start()
    pid = int(wait_until(lambda: fake.pidfile.exists() and fake.pidfile.read_text(), message="rpm-ostree pid"))

    os.kill(pid, signal.SIGKILL)  # what the OOM killer does to a compose
    runner.join(30)

    compose.refresh_from_db()
    assert compose.state == Compose.State.FAILED
    assert compose.failure_reason == "rpm-ostree compose tree was killed by SIGKILL"
    assert "Installing 1623 packages" in compose.log
    assert Repo(stages["dev"].repo_dir).resolve(REF_DEV) is None


def test_cancelling_a_running_compose_stops_rpm_ostree(treefile, stages, use_fake, release_engineer):
    fake = use_fake("hang")
    compose = compose_request(treefile=treefile, backend="rpm-ostree", enqueue=False)
    runner = threading.Thread(target=compose_run, kwargs={"compose_id": compose.pk})
    runner.start()
    pid = int(wait_until(lambda: fake.pidfile.exists() and fake.pidfile.read_text(), message="rpm-ostree pid"))

    compose_cancel(compose=compose, user=release_engineer)
    runner.join(30)

    compose.refresh_from_db()
    assert compose.state == Compose.State.CANCELLED
    assert "! cancelled" in compose.log
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.skipif(
    shutil.which("rpm-ostree") is None, reason="rpm-ostree is not installed (it does not run on Debian)"
)
def test_a_real_rpm_ostree_composes_a_minimal_treefile(stages, tmp_path, settings):  # pragma: no cover - Fedora only
    from kinoite_portal.releases.services.treefiles import treefile_save

    settings.PORTAL_COMPOSE_CONFIG_DIR = Path("/etc/yum.repos.d")  # the build host's own Fedora repo definitions

    treefile = treefile_save(
        name="minimal",
        content={"ref": "test/x86_64/minimal", "repos": ["fedora"], "packages": ["filesystem"], "releasever": "41"},
        published_ref="test/x86_64/minimal-stable",
    )
    compose = rpm_ostree_compose(treefile)
    assert compose.state == Compose.State.SUCCEEDED, json.dumps(compose.log[-2000:])


def test_the_repo_files_and_includes_are_copied_beside_the_treefile(treefile, stages, use_fake, compose_config):
    fake = use_fake("ok")
    (compose_config / "common").mkdir()
    (compose_config / "common" / "kinoite-base.json").write_text('{"packages": ["bash"]}')
    treefile.content = {**treefile.content, "include": "common/kinoite-base.json"}
    treefile.save()
    treefile.revisions.update(content=treefile.content)

    compose = rpm_ostree_compose(treefile)

    assert compose.state == Compose.State.SUCCEEDED, compose.log
    assert len(fake.calls()) == 1
    assert f"Compose inputs from {compose_config}: common/kinoite-base.json, fedora.repo" in compose.log
    # What rpm-ostree (the mock) found beside the treefile it was given:
    assert "Repos defined beside the treefile: fedora, fedora-updates" in compose.log
    assert 'Including common/kinoite-base.json: {"packages": ["bash"]}' in compose.log


def test_a_repo_no_repo_file_defines_fails_before_rpm_ostree_runs(treefile, stages, use_fake, compose_config):
    fake = use_fake("ok")
    (compose_config / "fedora.repo").write_text("[fedora]\nname=Fedora\n")
    head_before = Repo(stages["dev"].repo_dir).resolve(REF_DEV)

    compose = rpm_ostree_compose(treefile)

    assert compose.state == Compose.State.FAILED
    assert "repo 'fedora-updates' is not defined by any .repo file" in compose.failure_reason
    assert fake.calls() == []
    assert Repo(stages["dev"].repo_dir).resolve(REF_DEV) == head_before


def test_a_missing_include_fails_before_rpm_ostree_runs(treefile, stages, use_fake):
    fake = use_fake("ok")
    treefile.content = {**treefile.content, "include": "common/missing.json"}
    treefile.save()
    treefile.revisions.update(content=treefile.content)

    compose = rpm_ostree_compose(treefile)

    assert compose.state == Compose.State.FAILED
    assert "include 'common/missing.json' is not in" in compose.failure_reason
    assert fake.calls() == []
