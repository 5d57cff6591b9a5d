"""A real registry for the OCI tests: Debian's docker-registry (distribution 2.8) on a free loopback port.

``oci_registry`` (a pytest fixture, one registry per test, storage in the test's tmp folder) yields a Registry with
its ``host`` ("127.0.0.1:PORT"). ``build_image`` makes a small multi-layer image from folders with buildah (as root,
``--storage-driver vfs``, a ``--root``/``--runroot`` of its own so tests never share storage) and pushes it: the
Fedora base images cannot be fetched here, so images are built from scratch. ``oci_stages`` makes dev and prod OCI
stages on that registry, ``signed_oci_prod`` gives prod a key, ``containerfile`` publishes dev's ``latest`` as
``stable``, and ``push_dev_image`` pushes a two-layer image to dev.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kinoite_portal.ostree import gpg
from kinoite_portal.releases.models import Stage, Treefile
from kinoite_portal.releases.services.signing import signing_key_generate
from tests.services import free_port, stop_process, wait_for_port


@dataclass(frozen=True)
class Registry:
    """A running throwaway registry."""

    host: str
    storage: Path
    log: Path

    def catalog(self) -> list[str]:
        """Return the repositories the registry holds (its own HTTP API, not skopeo)."""
        with urllib.request.urlopen(f"http://{self.host}/v2/_catalog", timeout=5) as answer:
            return list(json.load(answer).get("repositories") or [])


def _wait_for_v2(host: str, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    wait_for_port(int(host.rsplit(":", 1)[1]), timeout=timeout, proc=proc)
    with urllib.request.urlopen(f"http://{host}/v2/", timeout=5) as answer:
        assert answer.status == 200


@contextmanager
def registry_server(folder: Path) -> Iterator[Registry]:
    """Run a throwaway docker-registry on a free loopback port with its storage under ``folder``."""
    binary = shutil.which("docker-registry") or shutil.which("registry")
    if binary is None:
        raise RuntimeError("docker-registry is not installed: run deploy/dev/install-system-packages.sh test")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: test-only-secret\n"
    )
    log = folder / "registry.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_v2(f"127.0.0.1:{port}", proc)
        yield Registry(host=f"127.0.0.1:{port}", storage=folder / "data", log=log)
    finally:
        stop_process(proc)  # type: ignore[arg-type]


@pytest.fixture
def oci_registry(tmp_path: Path) -> Iterator[Registry]:
    if shutil.which("docker-registry") is None and shutil.which("registry") is None:
        pytest.fail("docker-registry is not installed: run deploy/dev/install-system-packages.sh test")
    with registry_server(tmp_path / "registry") as registry:
        yield registry


def _buildah(root: Path, *args: str) -> str:
    argv = [
        "buildah",
        "--storage-driver",
        "vfs",
        "--root",
        str(root / "storage"),
        "--runroot",
        str(root / "run"),
        *args,
    ]
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=300).stdout.strip()


def build_image(
    *,
    registry: Registry | str,
    repository: str,
    tag: str,
    layers: Sequence[Mapping[str, bytes | str]],
    labels: Mapping[str, str] | None = None,
    workdir: Path,
) -> str:
    """Build an image with one layer per mapping (path in the image -> content), push it, return its digest.

    The same ``workdir`` keeps buildah's storage between calls, so a second image built on the same first layers
    shares their blobs, as images from one base do.
    """
    host = registry if isinstance(registry, str) else registry.host
    root = workdir / "buildah"
    root.mkdir(parents=True, exist_ok=True)
    base = "scratch"
    image = ""
    for number, files in enumerate(layers):
        tree = workdir / f"tree-{repository.replace('/', '_')}-{tag}-{number}"
        if tree.exists():
            shutil.rmtree(tree)
        for name, content in files.items():
            path = tree / name.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        container = _buildah(root, "from", "--quiet", "--pull-never", base)
        _buildah(root, "copy", "--quiet", container, f"{tree}/.", "/")
        if number == len(layers) - 1:
            for key, value in (labels or {}).items():
                _buildah(root, "config", "--label", f"{key}={value}", container)
        image = f"localhost/portal-test/{repository.replace('/', '-')}:{tag}-{number}"
        _buildah(root, "commit", "--quiet", "--rm", container, image)
        base = image
    digest_file = workdir / "pushed-digest"
    _buildah(
        root,
        "push",
        "--quiet",
        "--tls-verify=false",
        "--digestfile",
        str(digest_file),
        image,
        f"docker://{host}/{repository}:{tag}",
    )
    return digest_file.read_text().strip()


@pytest.fixture
def oci_stages(db: None, oci_registry: Registry) -> dict[str, Stage]:
    """Create dev (order 0) and prod (order 1) as OCI stages: dev/kinoite and prod/kinoite of the test registry."""
    return {
        name: Stage.objects.create(
            name=name,
            order=order,
            kind=Stage.Kind.OCI,
            image_registry=oci_registry.host,
            image_repository=f"{name}/kinoite",
            registry_tls_verify=False,
            min_days_in_previous_stage=0,
        )
        for order, name in enumerate(("dev", "prod"))
    }


def push_dev_image(registry: Registry, workdir: Path, *, tag: str = "latest", version: str = "41.20261130.0") -> str:
    """Build a two-layer bootc-like image and push it to dev/kinoite:TAG; return its digest."""
    return build_image(
        registry=registry,
        repository="dev/kinoite",
        tag=tag,
        layers=[{"usr/lib/os-release": "NAME=Kinoite\n"}, {"usr/share/kinoite/version": version}],
        labels={"version": version, "ostree.commit": "cd" * 32, "containers.bootc": "1"},
        workdir=workdir,
    )


@pytest.fixture
def oci_gnupg_root(settings: Any) -> Iterator[Path]:
    """Point PORTAL_GNUPG_ROOT at a short folder (gpg-agent's socket path must stay under ~100 characters)."""
    root = Path(tempfile.mkdtemp(prefix="kpo-", dir="/tmp"))
    settings.PORTAL_GNUPG_ROOT = root
    yield root
    for home in gpg.homes_under(root):
        gpg.kill_agent(home)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def signed_oci_prod(oci_stages: dict[str, Stage], oci_gnupg_root: Path) -> Stage:
    """Give the OCI prod stage a freshly generated signing key."""
    signing_key_generate(
        stage=oci_stages["prod"], name="Prod images (test)", email="prod@portal.invalid", queue_resign=False
    )
    oci_stages["prod"].refresh_from_db()
    return oci_stages["prod"]


@pytest.fixture
def containerfile(oci_stages: dict[str, Stage]) -> Treefile:
    """A Containerfile built into dev/kinoite:latest and published in prod as :stable."""
    return Treefile.objects.create(
        name="kinoite-bootc",
        kind=Treefile.Kind.CONTAINERFILE,
        content={"tag": "latest", "containerfile": "FROM scratch\nCOPY tree /\n", "releasever": 41, "context": {}},
        published_ref="stable",
    )
