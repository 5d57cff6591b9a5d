"""OCI stages on a real registry: dev and prod repositories of one throwaway registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinoite_portal.releases.models import Stage
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
