"""Run ostree, rpm-ostree and gpg for the portal: typed results, validated input, no Django."""

from __future__ import annotations

from .compose import rpm_ostree_compose_argv, run_rpm_ostree_compose
from .errors import (
    CommandCancelled,
    CommandError,
    CommandTimeout,
    CommitNotFound,
    GvariantError,
    InvalidChecksum,
    InvalidRef,
    InvalidRemoteName,
    LockTimeout,
    OstreeError,
    RepoMissing,
    ToolMissing,
)
from .gvariant import Int32, RawVariant, Uint32, Uint64, format_value, from_variant, metadata_variant, to_variant
from .lock import portal_lock, repo_lock
from .model import CommitInfo, DeltaInfo, DiffEntry, DiffResult, FsckResult, Package, PruneResult, PullResult
from .packages import PackageChange, PackageDiff, compare_evr, diff_packages, rpmvercmp
from .repo import OSTREE_MANAGED_KEYS, Repo
from .runner import CommandResult, FuncLog, ListLog, LogSink, NullLog, run, stream
from .treebuilder import build_tree, compute_input_hash, next_version, parse_version
from .validate import validate_checksum, validate_ref, validate_remote_name

__all__ = [
    "OSTREE_MANAGED_KEYS",
    "CommandCancelled",
    "CommandError",
    "CommandResult",
    "CommandTimeout",
    "CommitInfo",
    "CommitNotFound",
    "DeltaInfo",
    "DiffEntry",
    "DiffResult",
    "FsckResult",
    "FuncLog",
    "GvariantError",
    "Int32",
    "InvalidChecksum",
    "InvalidRef",
    "InvalidRemoteName",
    "ListLog",
    "LockTimeout",
    "LogSink",
    "NullLog",
    "OstreeError",
    "Package",
    "PackageChange",
    "PackageDiff",
    "PruneResult",
    "PullResult",
    "RawVariant",
    "Repo",
    "RepoMissing",
    "ToolMissing",
    "Uint32",
    "Uint64",
    "build_tree",
    "compare_evr",
    "compute_input_hash",
    "diff_packages",
    "format_value",
    "from_variant",
    "metadata_variant",
    "next_version",
    "parse_version",
    "portal_lock",
    "repo_lock",
    "rpm_ostree_compose_argv",
    "rpmvercmp",
    "run",
    "run_rpm_ostree_compose",
    "stream",
    "to_variant",
    "validate_checksum",
    "validate_ref",
    "validate_remote_name",
]
