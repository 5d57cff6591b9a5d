"""Typed results returned by the ostree layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from .packages import EVRKey


@dataclass(frozen=True, order=False)
class Package:
    """One RPM as recorded in ``rpmostree.rpmdb.pkglist`` (name, epoch, version, release, arch)."""

    name: str
    epoch: int
    version: str
    release: str
    arch: str

    @property
    def evr(self) -> str:
        """Return ``[epoch:]version-release``, omitting a zero epoch as rpm does."""
        prefix = f"{self.epoch}:" if self.epoch else ""
        return f"{prefix}{self.version}-{self.release}"

    @property
    def nevra(self) -> str:
        """Return ``name-[epoch:]version-release.arch``."""
        return f"{self.name}-{self.evr}.{self.arch}"

    @property
    def key(self) -> tuple[str, str]:
        """Return the (name, arch) pair that identifies the package across commits."""
        return (self.name, self.arch)

    @property
    def sort_key(self) -> tuple[str, str, EVRKey]:
        """Return a key that sorts by name, arch, then rpm-style (epoch, version, release)."""
        return (self.name, self.arch, EVRKey(self.epoch, self.version, self.release))

    def as_tuple(self) -> tuple[str, int, str, str, str]:
        """Return the ``(stsss)`` tuple rpm-ostree stores."""
        return (self.name, self.epoch, self.version, self.release, self.arch)


@dataclass(frozen=True)
class CommitInfo:
    """One commit as read back from a repo."""

    checksum: str
    parent: str | None
    content_checksum: str
    timestamp: datetime
    version: str | None
    subject: str
    body: str
    metadata: dict[str, object] = field(default_factory=dict, compare=False, hash=False)
    packages: tuple[Package, ...] = ()
    ref_binding: tuple[str, ...] | None = None
    signatures: int = 0
    input_hash: str | None = None
    signature_key_ids: tuple[str, ...] = ()


DiffStatus = Literal["A", "D", "M"]


@dataclass(frozen=True)
class DiffEntry:
    """One changed path between two commits."""

    status: DiffStatus
    path: str


@dataclass(frozen=True)
class DiffResult:
    """All changed paths between two commits, with counts per status."""

    entries: tuple[DiffEntry, ...]
    added: int
    removed: int
    modified: int

    @property
    def identical(self) -> bool:
        """Return True if the two trees are the same."""
        return not self.entries


@dataclass(frozen=True)
class PullResult:
    """The outcome of a pull: ostree's summary line and the object counts parsed from it."""

    summary_line: str
    metadata_objects: int
    content_objects: int


@dataclass(frozen=True)
class FsckResult:
    """The outcome of ``ostree fsck``: ok is True only for exit 0."""

    ok: bool
    output: str


@dataclass(frozen=True)
class DeltaInfo:
    """One static delta: ``from_checksum`` is None for a from-scratch delta."""

    name: str
    from_checksum: str | None
    to_checksum: str

    @classmethod
    def from_name(cls, name: str) -> DeltaInfo:
        """Build from a ``static-delta list`` line (``FROM-TO`` or ``TO``)."""
        if "-" in name:
            old, new = name.split("-", 1)
            return cls(name=name, from_checksum=old, to_checksum=new)
        return cls(name=name, from_checksum=None, to_checksum=name)


@dataclass(frozen=True)
class PruneResult:
    """The outcome of ``ostree prune``: objects counted and deleted as ostree reported them."""

    total_objects: int | None
    deleted_objects: int
    output: str
