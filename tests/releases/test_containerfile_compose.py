"""Composes of Containerfiles: built by a real Celery worker with real buildah, pushed to a real registry."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from kinoite_portal.releases.errors import ComposeError
from kinoite_portal.releases.models import Compose, Ref, RefUpdate, Stage, Treefile
from kinoite_portal.releases.services.composes import (
    compose_cancel,
    compose_request,
    compose_run,
    compose_schedule_due,
)
from kinoite_portal.releases.services.treefiles import treefile_save
from tests.services import stalling_http_url, wait_until

CONTAINERFILE = "FROM scratch\nCOPY etc/ /etc/\nLABEL ostree.bootable=1\n"


def registry_digest(reference: str) -> str | None:
    result = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{reference}"], capture_output=True, text=True
    )
    return json.loads(result.stdout)["Digest"] if result.returncode == 0 else None


def buildah_pids(root: Path) -> list[int]:
    """Return the ids of running buildah processes that use the storage under ``root`` (this test's only)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"buildah") and any(str(root).encode() in arg for arg in args):
            found.append(int(cmdline.parent.name))
    return found


@pytest.fixture
def oci_stages(db: None, oci_registry: Any) -> dict[str, Stage]:
    """An OCI dev (order 10) and prod (order 11) in the test's registry, beside no ostree stage."""
    common = {"kind": Stage.Kind.OCI, "image_registry": oci_registry.host, "registry_tls_verify": False}
    return {
        "dev": Stage.objects.create(name="bootc-dev", order=10, image_repository="dev/kinoite", **common),
        "prod": Stage.objects.create(name="bootc-prod", order=11, image_repository="prod/kinoite", **common),
    }


def save_containerfile(containerfile: str = CONTAINERFILE, **extra: Any) -> Treefile:
    return treefile_save(
        name="kinoite-bootc",
        kind="containerfile",
        content={
            "containerfile": containerfile,
            "tag": "latest",
            "releasever": "41",
            "context": {"etc/motd": "Welcome to Kinoite\n", "etc/os-release": "NAME=Kinoite\nVERSION_ID=41\n"},
        },
        published_ref="stable",
        **extra,
    )


def wait_finished(compose: Compose, timeout: float = 60) -> Compose:
    def finished() -> bool:
        compose.refresh_from_db()
        return compose.is_finished

    wait_until(finished, timeout=timeout, message=f"compose #{compose.pk} finished")
    return compose


@pytest.fixture
def stalling_url() -> Iterator[str]:
    """A URL that stalls mid-file: an ADD of it keeps buildah busy."""
    with stalling_http_url("kinoite-extras.tar") as url:
        yield url


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_builds_pushes_and_records_the_image_as_the_dev_tags_commit(
    oci_stages, oci_registry, start_worker
) -> None:
    worker = start_worker(queues="compose")
    treefile = save_containerfile()
    reference = f"{oci_registry.host}/dev/kinoite:latest"

    first = wait_finished(compose_request(treefile=treefile))

    assert first.state == Compose.State.SUCCEEDED, first.log
    assert (first.stage, first.backend) == (oci_stages["dev"], "buildah")
    assert registry_digest(reference) == f"sha256:{first.commit.checksum}"
    today = timezone.now().date()
    assert first.commit.version == f"41.{today:%Y%m%d}.0"
    assert first.commit.metadata["ostree.bootable"] == "1"
    assert first.commit.metadata["org.opencontainers.image.version"] == first.commit.version
    assert "STEP 2/5: COPY etc/ /etc/" in first.log
    assert "+ buildah --root=" in first.log
    assert f"Succeeded: {first.commit.version} sha256:{first.commit.checksum} (bootc-dev:latest)" in first.log
    assert "releases.compose_run" in worker.log()

    second = wait_finished(compose_request(treefile=treefile))

    assert second.state == Compose.State.SUCCEEDED, second.log
    assert second.commit.version == f"41.{today:%Y%m%d}.1"
    assert registry_digest(reference) == f"sha256:{second.commit.checksum}"
    assert Ref.objects.get(stage=oci_stages["dev"], name="latest").head == second.commit
    moves = list(RefUpdate.objects.order_by("moved_at").values_list("source", "compose", "previous_commit"))
    assert moves == [("compose", first.pk, None), ("compose", second.pk, first.commit.pk)]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_cancel_mid_build_stops_buildah_and_leaves_the_tag_alone(
    oci_stages, oci_registry, start_worker, stalling_url, release_engineer
) -> None:
    start_worker(queues="compose")
    treefile = save_containerfile(f"FROM scratch\nADD {stalling_url} /usr/share/extras.tar\n")
    compose = compose_request(treefile=treefile)
    wait_until(lambda: f": ADD {stalling_url}" in Compose.objects.get(pk=compose.pk).log, timeout=60, message="ADD")

    compose_cancel(compose=compose, user=release_engineer)
    compose = wait_finished(compose, timeout=30)

    assert compose.state == Compose.State.CANCELLED
    assert compose.failure_reason == "Cancelled while running; the dev tag did not move"
    assert "! cancelled" in compose.log
    assert registry_digest(f"{oci_registry.host}/dev/kinoite:latest") is None
    assert not Ref.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_failing_containerfile_fails_with_buildahs_reason_shown_and_in_the_log(
    oci_stages, oci_registry, start_worker, release_engineer, client_for
) -> None:
    start_worker(queues="compose")
    # FROM scratch has no shell: the RUN step fails in buildah, as a broken RUN line of a real build would.
    treefile = save_containerfile("FROM scratch\nCOPY etc/ /etc/\nRUN dnf -y install htop\n")

    compose = wait_finished(compose_request(treefile=treefile))

    assert compose.state == Compose.State.FAILED
    assert compose.failure_reason.startswith("buildah build failed (exit ")
    assert 'building at STEP "RUN dnf -y install htop"' in compose.failure_reason
    assert f"Failed: {compose.failure_reason}" in compose.log
    assert compose.commit is None
    assert registry_digest(f"{oci_registry.host}/dev/kinoite:latest") is None
    page = client_for(release_engineer).get(f"/releases/composes/{compose.pk}/").content.decode()
    assert "building at STEP &quot;RUN dnf -y install htop&quot;" in page


@pytest.mark.django_db
def test_a_containerfile_into_an_ostree_stage_is_refused_and_nothing_is_queued(stages, oci_stages) -> None:
    treefile = save_containerfile()

    with pytest.raises(ComposeError, match="kinoite-bootc is a Containerfile: it builds an image, which goes to an"):
        compose_request(treefile=treefile, stage=stages["dev"])

    assert not Compose.objects.exists()


@pytest.mark.django_db
def test_a_treefile_into_an_oci_stage_is_refused_and_nothing_is_queued(treefile, oci_stages) -> None:
    with pytest.raises(ComposeError, match="kinoite is an rpm-ostree treefile: it composes an ostree commit"):
        compose_request(treefile=treefile, stage=oci_stages["dev"])
    with pytest.raises(ComposeError, match="backend 'buildah' builds Containerfiles"):
        compose_request(treefile=treefile, backend="buildah")

    assert not Compose.objects.exists()


@pytest.mark.django_db
def test_each_kind_goes_to_the_first_stage_of_its_kind(treefile, stages, oci_stages) -> None:
    image = compose_request(treefile=save_containerfile(), enqueue=False)
    tree = compose_request(treefile=treefile, enqueue=False)

    assert (image.stage, image.backend) == (oci_stages["dev"], "buildah")
    assert (tree.stage, tree.backend) == (stages["dev"], "local")


@pytest.mark.django_db
def test_a_containerfile_without_an_oci_stage_is_refused_with_what_to_add(stages) -> None:
    treefile = save_containerfile()

    with pytest.raises(ComposeError, match="no OCI image repository stage is configured, and Containerfile builds"):
        compose_request(treefile=treefile)

    assert not Compose.objects.exists()


@pytest.mark.django_db
def test_a_stage_that_became_ostree_after_the_request_fails_the_run_without_building(oci_stages) -> None:
    compose = compose_request(treefile=save_containerfile(), enqueue=False)
    Stage.objects.filter(pk=oci_stages["dev"].pk).update(kind=Stage.Kind.OSTREE, repo_path="dev")

    compose = compose_run(compose_id=compose.pk)

    assert compose.state == Compose.State.FAILED
    assert "kinoite-bootc is a Containerfile" in compose.failure_reason
    assert "+ buildah" not in compose.log


@pytest.mark.django_db
def test_a_due_schedule_queues_a_buildah_compose_of_the_containerfile(oci_stages) -> None:
    treefile = save_containerfile(schedule="* * * * *")

    started = compose_schedule_due()

    assert [(c.treefile, c.trigger, c.backend, c.stage) for c in started] == [
        (treefile, "schedule", "buildah", oci_stages["dev"])
    ]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_compose_command_saves_a_containerfile_file_builds_it_and_reports_the_digest(
    oci_stages, oci_registry, start_worker, tmp_path, capsys
) -> None:
    start_worker(queues="compose")
    path = tmp_path / "kinoite-bootc.json"
    path.write_text(json.dumps({"containerfile": CONTAINERFILE, "tag": "nightly", "context": {"etc/motd": "hi\n"}}))

    call_command("compose", str(path), "--kind=containerfile", "--published-ref=stable", "--wait", "--wait-timeout=60")

    out = capsys.readouterr().out
    compose = Compose.objects.get()
    assert (compose.treefile.kind, compose.stage.name, compose.state) == ("containerfile", "bootc-dev", "succeeded")
    assert registry_digest(f"{oci_registry.host}/dev/kinoite:nightly") == f"sha256:{compose.commit.checksum}"
    assert json.loads(out.strip().splitlines()[-1])["commit"] == compose.commit.checksum
    # Without a releasever the version is the date and a serial.
    assert compose.commit.version == f"{timezone.now().date():%Y%m%d}.0"


@pytest.mark.django_db
def test_the_compose_command_refuses_a_stage_of_the_other_kind(stages, oci_stages) -> None:
    save_containerfile()

    with pytest.raises(CommandError, match="kinoite-bootc is a Containerfile"):
        call_command("compose", "kinoite-bootc", "--stage=dev")
    with pytest.raises(CommandError, match="no stage named 'qa'"):
        call_command("compose", "kinoite-bootc", "--stage=qa")

    assert not Compose.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_build_whose_worker_was_killed_is_failed_by_the_next_delivery(
    oci_stages, oci_registry, start_worker, stalling_url, settings
) -> None:
    worker = start_worker(queues="compose")
    compose = compose_request(treefile=save_containerfile(f"FROM scratch\nADD {stalling_url} /extras.tar\n"))
    wait_until(lambda: f": ADD {stalling_url}" in Compose.objects.get(pk=compose.pk).log, timeout=60, message="ADD")

    worker.kill()
    # buildah runs in a session of its own: the worker's death does not take it along (as with rpm-ostree).
    builds = buildah_pids(settings.PORTAL_BUILDAH_ROOT)
    assert builds, "buildah outlives its worker"
    for pid in builds:
        os.killpg(pid, signal.SIGKILL)
    # The unacknowledged message is delivered again (acks_late); that delivery runs the same service.
    compose = compose_run(compose_id=compose.pk)

    assert compose.state == Compose.State.FAILED
    assert compose.failure_reason == "Interrupted: the worker running this compose stopped before it finished"
    assert registry_digest(f"{oci_registry.host}/dev/kinoite:latest") is None
    assert not Ref.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db
def test_the_push_uses_the_workers_registry_auth_file_when_there_is_one(oci_stages, oci_registry, settings) -> None:
    auth = settings.PORTAL_REGISTRY_AUTH_FILE
    auth.parent.mkdir(parents=True, exist_ok=True)
    auth.write_text(json.dumps({"auths": {"registry.example.com": {"auth": "dXNlcjpwYXNz"}}}))
    auth.chmod(0o600)

    compose = compose_run(compose_id=compose_request(treefile=save_containerfile(), enqueue=False).pk)

    assert compose.state == Compose.State.SUCCEEDED, compose.log
    push = next(line for line in compose.log.splitlines() if " push " in line)
    assert f"--authfile={auth}" in push
