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


PROD_IMAGE = "registry.example.com/prod/kinoite"


def bootc_entry(
    digest: str,
    *,
    image: str = f"{PROD_IMAGE}:stable",
    version: str | None = "41.20261125.0",
    signature: Any = "containerPolicy",
    cached_update: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Return one boot entry of ``bootc status --json`` (bootc 1.1, ``org.containers.bootc/v1``)."""
    reference: dict[str, Any] = {"image": image, "transport": "registry"}
    if signature is not None:
        reference["signature"] = signature  # bootc leaves it out when no signature is verified

    def image_status(hex_digest: str) -> dict[str, Any]:
        return {
            "image": reference,
            "version": version,
            "timestamp": "2026-11-25T04:38:57Z",
            "imageDigest": f"sha256:{hex_digest}",
            "architecture": "amd64",
        }

    entry: dict[str, Any] = {
        "image": image_status(digest),
        "cachedUpdate": image_status(cached_update) if cached_update else None,
        "incompatible": False,
        "pinned": False,
        "store": "ostreeContainer",
        "ostree": {"checksum": fake_checksum(f"ostree-{digest}"), "deploySerial": 0, "stateroot": "default"},
    }
    entry.update(extra)
    return entry


def bootc_doc(
    booted: dict[str, Any] | None,
    *,
    staged: dict[str, Any] | None = None,
    rollback: dict[str, Any] | None = None,
    spec_image: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a whole ``bootc status --json`` document; ``spec.image`` defaults to the booted entry's reference."""
    if spec_image is None and booted is not None:
        spec_image = booted["image"]["image"]
    return {
        "apiVersion": "org.containers.bootc/v1",
        "kind": "BootcHost",
        "metadata": {"name": "host"},
        "spec": {"image": spec_image, "bootOrder": "default"},
        "status": {
            "staged": staged,
            "booted": booted,
            "rollback": rollback,
            "rollbackQueued": False,
            "type": "bootcHost" if booted is not None else None,
        },
    }
