"""Building a Containerfile with real buildah (vfs storage of the test's own) and pushing it to a real registry."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kinoite_portal.oci.build import (
    BuildahStore,
    BuildFailed,
    InvalidLabel,
    build_and_push,
    buildah_build_argv,
    buildah_push_argv,
)
from kinoite_portal.ostree import CommandCancelled, CommandTimeout, ListLog, ToolMissing
from tests.services import stalling_http_url

pytestmark = pytest.mark.slow


def skopeo_inspect(reference: str) -> dict:
    result = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{reference}"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def tag_exists(reference: str) -> bool:
    result = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{reference}"], capture_output=True, text=True
    )
    return result.returncode == 0


def local_images(store: BuildahStore) -> list[str]:
    result = subprocess.run(
        ["buildah", *store.options(), "images", "--quiet"], capture_output=True, text=True, check=True
    )
    return result.stdout.split()


def buildah_processes_under(root: Path) -> list[str]:
    """Return the command lines of running buildah processes that use ``root`` (this test's store only)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"buildah") and any(str(root).encode() in a for a in args):
            found.append(b" ".join(args).decode(errors="replace"))
    return found


@pytest.fixture
def store(tmp_path: Path) -> BuildahStore:
    return BuildahStore(root=tmp_path / "buildah" / "storage", runroot=tmp_path / "buildah" / "run")


def context(tmp_path: Path, containerfile: str, files: dict[str, str]) -> tuple[Path, Path]:
    folder = tmp_path / "context"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    folder.mkdir(exist_ok=True)
    path = tmp_path / "Containerfile"
    path.write_text(containerfile)
    return path, folder


@pytest.fixture
def slow_server() -> Iterator[str]:
    """Serve one endpoint that stalls mid-file: an ADD of it never finishes."""
    with stalling_http_url("big.bin") as url:
        yield url


def test_it_builds_from_scratch_pushes_and_returns_the_digest_the_registry_holds(tmp_path, store, oci_registry) -> None:
    containerfile, folder = context(
        tmp_path,
        "FROM scratch\nCOPY etc/ /etc/\nLABEL ostree.bootable=1\n",
        {"etc/motd": "Welcome to Kinoite\n", "etc/os-release": "NAME=Kinoite\n"},
    )
    reference = f"{oci_registry.host}/dev/kinoite:latest"
    log = ListLog()

    pushed = build_and_push(
        containerfile=containerfile,
        context_dir=folder,
        reference=reference,
        store=store,
        workdir=tmp_path / "work",
        labels={"version": "41.20261130.0"},
        tls_verify=False,
        log=log,
    )

    inspected = skopeo_inspect(reference)
    assert pushed.digest == inspected["Digest"]
    assert len(pushed.digest_hex) == 64
    assert inspected["Labels"]["version"] == "41.20261130.0"
    assert inspected["Labels"]["ostree.bootable"] == "1"
    build, push = log.commands[0], next(c for c in log.commands if " push " in c)
    assert build.startswith(f"buildah --root={store.root} --runroot={store.runroot} --storage-driver=vfs build ")
    assert f"--digestfile={tmp_path / 'work' / 'digest'}" in push
    assert "STEP 2/4: COPY etc/ /etc/" in log.lines
    assert f"Pushed {reference}@{pushed.digest}" in log.lines
    # vfs keeps a full copy of each image: the build's own image is gone once pushed.
    assert local_images(store) == []


def test_a_failing_step_raises_buildahs_error_and_pushes_nothing(tmp_path, store, oci_registry) -> None:
    # FROM scratch has no /bin/sh: the RUN step fails inside buildah, as a broken RUN line would.
    containerfile, folder = context(tmp_path, "FROM scratch\nRUN dnf -y install htop\n", {})
    reference = f"{oci_registry.host}/dev/kinoite:latest"
    log = ListLog()

    with pytest.raises(BuildFailed) as failed:
        build_and_push(
            containerfile=containerfile,
            context_dir=folder,
            reference=reference,
            store=store,
            workdir=tmp_path / "work",
            tls_verify=False,
            log=log,
        )

    assert str(failed.value).startswith("buildah build failed (exit ")
    assert 'building at STEP "RUN dnf -y install htop"' in str(failed.value)
    assert any(line.startswith("! exit ") for line in log.lines)
    assert not any("push" in command.split() for command in log.commands)
    assert not tag_exists(reference)


def test_cancel_mid_build_kills_buildah_and_pushes_nothing(tmp_path, store, oci_registry, slow_server) -> None:
    containerfile, folder = context(tmp_path, f"FROM scratch\nADD {slow_server} /big.bin\n", {})
    reference = f"{oci_registry.host}/dev/kinoite:latest"
    log = ListLog()
    cancel = threading.Event()

    def cancel_once_adding() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("STEP 2/2: ADD" in line for line in log.lines):
            time.sleep(0.05)
        cancel.set()

    threading.Thread(target=cancel_once_adding, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(CommandCancelled):
        build_and_push(
            containerfile=containerfile,
            context_dir=folder,
            reference=reference,
            store=store,
            workdir=tmp_path / "work",
            tls_verify=False,
            log=log,
            should_cancel=cancel.is_set,
        )

    assert any("STEP 2/2: ADD" in line for line in log.lines)
    assert "! cancelled" in log.lines
    assert time.monotonic() - started < 20
    assert buildah_processes_under(store.root) == []
    assert not tag_exists(reference)


def test_a_build_past_its_deadline_is_killed(tmp_path, store, oci_registry, slow_server) -> None:
    containerfile, folder = context(tmp_path, f"FROM scratch\nADD {slow_server} /big.bin\n", {})
    log = ListLog()

    with pytest.raises(CommandTimeout):
        build_and_push(
            containerfile=containerfile,
            context_dir=folder,
            reference=f"{oci_registry.host}/dev/kinoite:latest",
            store=store,
            workdir=tmp_path / "work",
            tls_verify=False,
            log=log,
            timeout=3,
        )

    assert any(line.startswith("! killed after 3") for line in log.lines), log.lines
    assert buildah_processes_under(store.root) == []


def test_labels_are_checked_before_anything_runs(tmp_path, store) -> None:
    argv = buildah_build_argv(
        store=store,
        containerfile=tmp_path / "Containerfile",
        context_dir=tmp_path / "context",
        iidfile=tmp_path / "iid",
        labels={"version": "41.1", "org.opencontainers.image.version": "41.1"},
    )
    assert argv[-3:] == [
        "--label=org.opencontainers.image.version=41.1",
        "--label=version=41.1",
        str(tmp_path / "context"),
    ]
    for labels, problem in [({"--squash x": "1"}, "label key"), ({"version": "1\n2"}, "one line")]:
        with pytest.raises(InvalidLabel, match=problem):
            buildah_build_argv(
                store=store,
                containerfile=tmp_path / "Containerfile",
                context_dir=tmp_path,
                iidfile=tmp_path / "iid",
                labels=labels,
            )


def test_a_host_without_buildah_is_told_which_package_to_install(tmp_path, store, monkeypatch) -> None:
    containerfile, folder = context(tmp_path, "FROM scratch\n", {})
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))

    with pytest.raises(ToolMissing, match="install the 'buildah' package"):
        build_and_push(
            containerfile=containerfile,
            context_dir=folder,
            reference="registry.example.com/dev/kinoite:latest",
            store=store,
            workdir=tmp_path / "work",
        )


def test_the_push_goes_by_tag_with_the_registry_credentials_and_records_the_digest(tmp_path, store) -> None:
    argv = buildah_push_argv(
        store=store,
        image_id="ab" * 32,
        reference="registry.example.com/dev/kinoite:latest",
        digestfile=tmp_path / "digest",
        tls_verify=True,
        authfile=tmp_path / "registry-auth.json",
    )

    assert argv == [
        "buildah",
        *store.options(),
        "push",
        "--tls-verify=true",
        f"--digestfile={tmp_path / 'digest'}",
        f"--authfile={tmp_path / 'registry-auth.json'}",
        "ab" * 32,
        "docker://registry.example.com/dev/kinoite:latest",
    ]
