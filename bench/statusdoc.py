"""Real-sized ``rpm-ostree status --json`` documents (three deployments, ~3 KB), as the desktop agent sends them."""

from __future__ import annotations

import hashlib
from typing import Any

PROD_REF = "fedora/x86_64/kinoite/stable"
LAYERED = ["htop", "podman-compose", "vim-enhanced"]


def fake_checksum(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def machine_id(index: int) -> str:
    return hashlib.md5(f"bench-host-{index}".encode()).hexdigest()  # noqa: S324 (an id, not a secret)


def hostname(index: int) -> str:
    return f"desk-{index:05d}.corp.example.com"


def _deployment(
    checksum: str, version: str, serial: int, *, booted: bool = False, staged: bool = False, base: str = ""
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": f"fedora-{checksum}.{serial}",
        "osname": "fedora",
        "serial": serial,
        "checksum": checksum,
        "version": version,
        "timestamp": 1764028800 - serial * 86400,
        "origin": f"prod:{PROD_REF}",
        "booted": booted,
        "staged": staged,
        "pinned": False,
        "unlocked": "none",
        "requested-packages": LAYERED,
        "requested-local-packages": [],
        "requested-base-removals": [],
        "requested-base-local-replacements": [],
        "base-removals": [],
        "base-local-replacements": [],
        "packages": LAYERED,
        "modules": [],
        "requested-modules": [],
        "requested-modules-enabled": [],
        "gpg-enabled": True,
        "regenerate-initramfs": False,
        "initramfs-etc": [],
    }
    if base:
        entry["base-checksum"] = base
        entry["base-version"] = version
        entry["base-timestamp"] = 1764028000 - serial * 86400
    return entry


def status_document(index: int, *, head: str = "", older: str = "", oldest: str = "") -> dict[str, Any]:
    """Return a layered host's status: an update staged, the booted deployment and a rollback one."""
    head = head or fake_checksum("head")
    older = older or fake_checksum("older")
    oldest = oldest or fake_checksum("oldest")
    local = [fake_checksum(f"local-{index}-{n}") for n in range(3)]
    return {
        "deployments": [
            _deployment(local[0], "41.20261126.0", 2, staged=True, base=head),
            _deployment(local[1], "41.20261125.0", 1, booted=True, base=older),
            _deployment(local[2], "41.20261120.0", 0, base=oldest),
        ],
        "transaction": None,
        "cached-update": None,
        "update-driver": None,
    }


def checkin_body(index: int, **checksums: str) -> dict[str, Any]:
    """Return the JSON body the agent posts to /api/v1/checkin for host ``index``."""
    return {
        "hostname": hostname(index),
        "machine_id": machine_id(index),
        "greenboot": "green",
        "status": status_document(index, **checksums),
    }
