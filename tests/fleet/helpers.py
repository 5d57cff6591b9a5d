"""Status documents shaped exactly like ``rpm-ostree status --json`` output, for the fleet tests."""

from __future__ import annotations

import hashlib
from typing import Any

PROD_REF = "fedora/x86_64/kinoite/stable"


def fake_checksum(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def machine_id(label: str) -> str:
    return hashlib.md5(label.encode()).hexdigest()


def deployment(
    checksum: str,
    *,
    version: str = "41.20261125.0",
    booted: bool = False,
    staged: bool = False,
    origin: str | None = f"prod:{PROD_REF}",
    container: str | None = None,
    base_checksum: str | None = None,
    base_version: str | None = None,
    packages: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Return one entry of ``deployments`` with the fields rpm-ostree 2024.x writes."""
    entry: dict[str, Any] = {
        "id": f"fedora-{checksum}.0",
        "osname": "fedora",
        "serial": 0,
        "checksum": checksum,
        "version": version,
        "timestamp": 1764028800,
        "booted": booted,
        "staged": staged,
        "pinned": False,
        "unlocked": "none",
        "requested-packages": packages or [],
        "requested-local-packages": [],
        "requested-base-removals": [],
        "requested-base-local-replacements": [],
        "base-removals": [],
        "base-local-replacements": [],
        "packages": packages or [],
        "modules": [],
        "requested-modules": [],
        "requested-modules-enabled": [],
        "gpg-enabled": False,
        "regenerate-initramfs": False,
        "initramfs-etc": [],
    }
    if container:
        entry["container-image-reference"] = container
        entry["container-image-reference-digest"] = "sha256:" + fake_checksum(container)
    elif origin is not None:
        entry["origin"] = origin
    if base_checksum:
        entry["base-checksum"] = base_checksum
        entry["base-version"] = base_version or version
        entry["base-timestamp"] = 1764028000
    entry.update(extra)
    return entry


def status_doc(*deployments: dict[str, Any], **top: Any) -> dict[str, Any]:
    """Return a whole ``rpm-ostree status --json`` document."""
    return {"deployments": list(deployments), "transaction": None, "cached-update": None, "update-driver": None, **top}


def booted_on(checksum: str, **kwargs: Any) -> dict[str, Any]:
    return status_doc(deployment(checksum, booted=True, **kwargs))
