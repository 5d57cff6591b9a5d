"""Run ``rpm-ostree compose tree`` (the production compose backend) and read its result."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import OstreeError
from .runner import DEFAULT_TIMEOUT, LogSink, stream
from .validate import validate_checksum

NO_CHANGES_MARKER = "No apparent changes since previous commit"
COMPOSE_TIMEOUT = 4 * 3600.0


def rpm_ostree_compose_argv(
    *,
    treefile_path: str | os.PathLike[str],
    repo_path: str | os.PathLike[str],
    cachedir: str | os.PathLike[str],
    commitid_file: str | os.PathLike[str],
    unified_core: bool = True,
    extra: Sequence[str] = (),
) -> list[str]:
    """Return the argv of ``rpm-ostree compose tree`` for one treefile."""
    for value in extra:
        if not value.startswith("--"):
            raise ValueError(f"extra compose arguments must be --options, got {value!r}")
    argv = ["rpm-ostree", "compose", "tree"]
    if unified_core:
        argv.append("--unified-core")
    argv += [
        f"--repo={Path(repo_path).absolute()}",
        f"--cachedir={Path(cachedir).absolute()}",
        f"--write-commitid-to={Path(commitid_file).absolute()}",
        *extra,
        # Absolute, so a treefile name can never be read as an option.
        str(Path(treefile_path).absolute()),
    ]
    return argv


def run_rpm_ostree_compose(
    *,
    treefile_path: str | os.PathLike[str],
    repo_path: str | os.PathLike[str],
    cachedir: str | os.PathLike[str],
    commitid_file: str | os.PathLike[str],
    log: LogSink | None = None,
    timeout: float = COMPOSE_TIMEOUT,
    should_cancel: Callable[[], bool] | None = None,
    unified_core: bool = True,
    extra: Sequence[str] = (),
) -> str | None:
    """Compose, streaming rpm-ostree's output to ``log``; return the new commit, or None if nothing changed.

    Raises CommandError on failure, CommandTimeout / CommandCancelled when stopped (the process group is killed).
    """
    commitid = Path(commitid_file)
    # A stale id from an earlier run must not be mistaken for this run's commit.
    commitid.unlink(missing_ok=True)
    Path(cachedir).mkdir(parents=True, exist_ok=True)
    argv = rpm_ostree_compose_argv(
        treefile_path=treefile_path,
        repo_path=repo_path,
        cachedir=cachedir,
        commitid_file=commitid,
        unified_core=unified_core,
        extra=extra,
    )
    result = stream(argv, log=log, timeout=timeout, should_cancel=should_cancel)
    if commitid.is_file() and commitid.read_text().strip():
        return validate_checksum(commitid.read_text().strip())
    if NO_CHANGES_MARKER in result.stdout:
        return None
    raise OstreeError(
        f"rpm-ostree compose exited 0 but wrote no commit id to {commitid} and did not report 'no changes'"
    )


__all__ = [
    "COMPOSE_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "NO_CHANGES_MARKER",
    "rpm_ostree_compose_argv",
    "run_rpm_ostree_compose",
]
