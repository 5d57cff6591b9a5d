"""OCI stages on a real registry: dev and prod repositories of one throwaway registry."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kinoite_portal.ostree import gpg
from kinoite_portal.releases.models import Stage, Treefile
from kinoite_portal.releases.services.signing import signing_key_generate
from tests.oci_registry import Registry, build_image


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
def short_gnupg_root(settings: Any) -> Iterator[Path]:
    """Point PORTAL_GNUPG_ROOT at a short folder (gpg-agent's socket path must stay under ~100 characters)."""
    root = Path(tempfile.mkdtemp(prefix="kpo-", dir="/tmp"))
    settings.PORTAL_GNUPG_ROOT = root
    yield root
    for home in root.iterdir():
        gpg.kill_agent(home)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def signed_oci_prod(oci_stages: dict[str, Stage], short_gnupg_root: Path) -> Stage:
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
