"""Read ``rpm-ostree status --json`` exactly as rpm-ostree writes it.

The document has ``deployments`` (newest first: a staged or pending deployment, then the booted one, then the
rollback) and top-level ``cached-update`` and ``update-driver``. Each deployment carries ``checksum``, ``version``,
``timestamp`` (seconds since the epoch), ``booted``, ``staged``, ``pinned`` and either ``origin`` (``remote:ref``) or,
for a host rebased to a container image, ``container-image-reference``. A host that layers packages reports its
local commit in ``checksum`` and the image it runs in ``base-checksum`` / ``base-version``.

Fields this module does not know are kept (``raw``), never rejected: rpm-ostree adds fields between releases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CHECKSUM_RE = re.compile(r"[0-9a-fA-F]{64}")
MAX_DEPLOYMENTS = 32
MAX_VERSION_LENGTH = 100
MAX_ORIGIN_LENGTH = 500


class StatusError(ValueError):
    """The status document is not what ``rpm-ostree status --json`` writes; the message says what is wrong."""


@dataclass(frozen=True)
class Deployment:
    """One deployment of a host, with the image it runs (``image_checksum``) told apart from its local commit."""

    checksum: str
    version: str
    timestamp: datetime | None
    booted: bool
    staged: bool
    pinned: bool
    origin: str
    remote: str
    ref: str
    container_image_reference: str
    base_checksum: str
    base_version: str
    raw: dict[str, Any] = field(compare=False, repr=False)

    @property
    def layered(self) -> bool:
        """Return whether the host layers packages on top of the image (its local commit differs from the base)."""
        return bool(self.base_checksum) and self.base_checksum != self.checksum

    @property
    def is_container(self) -> bool:
        return bool(self.container_image_reference)

    @property
    def image_checksum(self) -> str:
        """Return the commit of the image this deployment runs: the base for layered hosts, else the commit."""
        return self.base_checksum or self.checksum

    @property
    def image_version(self) -> str:
        if self.base_checksum:
            return self.base_version or self.version
        return self.version

    def summary(self) -> dict[str, Any]:
        """Return the fields the host page shows, as JSON-storable values."""
        return {
            "checksum": self.checksum,
            "image_checksum": self.image_checksum,
            "version": self.image_version,
            "local_version": self.version,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "booted": self.booted,
            "staged": self.staged,
            "pinned": self.pinned,
            "origin": self.container_image_reference or self.origin,
            "layered": self.layered,
            "container": self.is_container,
            "packages": _string_list(self.raw.get("requested-packages")),
        }


@dataclass(frozen=True)
class HostStatus:
    """A parsed status document: the deployments and which of them is booted, staged and the rollback."""

    deployments: list[Deployment]
    booted: Deployment
    staged: Deployment | None
    rollback: Deployment | None
    cached_update: dict[str, Any] | None
    update_driver: dict[str, Any] | None
    raw: dict[str, Any] = field(compare=False, repr=False)

    @property
    def booted_is_default(self) -> bool:
        """Return whether the booted deployment is the default one (what the boot loader picks first).

        rpm-ostree lists the default first, except that an update staged for the next boot comes before it. A
        booted deployment further down means the boot loader fell back (or an admin picked an older entry).
        """
        index = next(i for i, deployment in enumerate(self.deployments) if deployment.booted)
        return index == 0 or (index == 1 and self.deployments[0].staged)


def _string_list(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _checksum(entry: dict[str, Any], key: str, where: str, *, required: bool) -> str:
    value = entry.get(key)
    if value is None:
        if required:
            raise StatusError(f"{where}: '{key}' is missing")
        return ""
    if not isinstance(value, str) or not CHECKSUM_RE.fullmatch(value):
        raise StatusError(f"{where}: '{key}' must be 64 hexadecimal characters")
    return value.lower()


def _text(entry: dict[str, Any], key: str, where: str, max_length: int) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise StatusError(f"{where}: '{key}' must be a string")
    if len(value) > max_length or any(ord(ch) < 32 for ch in value):
        raise StatusError(f"{where}: '{key}' must be at most {max_length} printable characters")
    return value


def _flag(entry: dict[str, Any], key: str, where: str) -> bool:
    value = entry.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise StatusError(f"{where}: '{key}' must be true or false")
    return value


def _timestamp(entry: dict[str, Any], where: str) -> datetime | None:
    value = entry.get("timestamp")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise StatusError(f"{where}: 'timestamp' must be seconds since the epoch")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise StatusError(f"{where}: 'timestamp' {value} is out of range") from None


def _optional_object(doc: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise StatusError(f"'{key}' must be an object or null")
    return value


def parse_deployment(entry: Any, index: int) -> Deployment:
    """Return one deployment of the ``deployments`` array."""
    where = f"deployments[{index}]"
    if not isinstance(entry, dict):
        raise StatusError(f"{where} must be an object")
    origin = _text(entry, "origin", where, MAX_ORIGIN_LENGTH)
    container = _text(entry, "container-image-reference", where, MAX_ORIGIN_LENGTH)
    if not origin and not container:
        raise StatusError(f"{where}: needs 'origin' (remote:ref) or 'container-image-reference'")
    remote, sep, ref = origin.partition(":")
    if not sep:
        # A local ref without a remote (``ostree admin deploy REF`` from a local repo).
        remote, ref = "", origin
    base_checksum = _checksum(entry, "base-checksum", where, required=False)
    return Deployment(
        checksum=_checksum(entry, "checksum", where, required=True),
        version=_text(entry, "version", where, MAX_VERSION_LENGTH),
        timestamp=_timestamp(entry, where),
        booted=_flag(entry, "booted", where),
        staged=_flag(entry, "staged", where),
        pinned=_flag(entry, "pinned", where),
        origin="" if container else origin,
        remote="" if container else remote,
        ref="" if container else ref,
        container_image_reference=container,
        base_checksum=base_checksum,
        base_version=_text(entry, "base-version", where, MAX_VERSION_LENGTH) if base_checksum else "",
        raw=entry,
    )


def parse_status(doc: Any) -> HostStatus:
    """Return the parsed ``rpm-ostree status --json`` document, or raise StatusError saying what is wrong."""
    if not isinstance(doc, dict):
        raise StatusError("'status' must be the JSON object rpm-ostree status --json prints")
    entries = doc.get("deployments")
    if not isinstance(entries, list):
        raise StatusError("'status.deployments' must be a list")
    if not entries:
        raise StatusError("'status.deployments' is empty: a host always has at least its booted deployment")
    if len(entries) > MAX_DEPLOYMENTS:
        raise StatusError(f"'status.deployments' has more than {MAX_DEPLOYMENTS} entries")
    deployments = [parse_deployment(entry, index) for index, entry in enumerate(entries)]
    booted_indexes = [index for index, d in enumerate(deployments) if d.booted]
    if len(booted_indexes) != 1:
        raise StatusError(f"exactly one deployment must be booted, found {len(booted_indexes)}")
    booted_index = booted_indexes[0]
    if sum(1 for d in deployments if d.staged) > 1:
        raise StatusError("at most one deployment can be staged")
    # rpm-ostree lists a staged or pending deployment before the booted one, and the rollback right after it.
    staged = next((d for d in deployments if d.staged), None)
    if staged is None and booted_index > 0:
        staged = deployments[0]
    rollback = deployments[booted_index + 1] if booted_index + 1 < len(deployments) else None
    return HostStatus(
        deployments=deployments,
        booted=deployments[booted_index],
        staged=staged,
        rollback=rollback,
        cached_update=_optional_object(doc, "cached-update"),
        update_driver=_optional_object(doc, "update-driver"),
        raw=doc,
    )
