"""Parse the text the long-running ostree commands print (formats recorded in ostree-lab-notes.md section 3)."""

from __future__ import annotations

import re

from .errors import OstreeError
from .model import DiffEntry, DiffResult, DiffStatus, PruneResult, PullResult

_PULL_LOCAL_RE = re.compile(r"(\d+) metadata, (\d+) content objects (?:imported|fetched)")
_NOT_FOUND_MARKERS = ("not found", "No such metadata object", "Couldn't find file object", "No such branch")


def is_not_found_error(stderr: str) -> bool:
    """Return True if ostree's stderr says the commit or ref does not exist."""
    return any(marker in stderr for marker in _NOT_FOUND_MARKERS)


def parse_diff(text: str) -> DiffResult:
    """Parse ``ostree diff A B`` (``M    /path`` lines)."""
    entries: list[DiffEntry] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        status, _, path = line.partition(" ")
        if status not in ("A", "D", "M"):
            raise OstreeError(f"unexpected ostree diff line: {line!r}")
        typed: DiffStatus = "A" if status == "A" else "D" if status == "D" else "M"
        entries.append(DiffEntry(typed, path.lstrip(" ")))
    return DiffResult(
        entries=tuple(entries),
        added=sum(e.status == "A" for e in entries),
        removed=sum(e.status == "D" for e in entries),
        modified=sum(e.status == "M" for e in entries),
    )


def parse_pull(stdout: str) -> PullResult:
    """Parse the summary line a pull prints last (``15 metadata, 306 content objects imported; ...``)."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    for line in reversed(lines):
        match = _PULL_LOCAL_RE.search(line)
        if match:
            return PullResult(line, int(match.group(1)), int(match.group(2)))
    # A pull that had nothing to do may print nothing at all.
    return PullResult(lines[-1] if lines else "", 0, 0)


def parse_prune(stdout: str) -> PruneResult:
    """Parse ``ostree prune`` output (``Total objects: N`` and ``Deleted N objects, ...`` or ``Would delete: N``)."""
    total = re.search(r"Total objects: (\d+)", stdout)
    deleted = re.search(r"(?:Deleted|Would delete:) (\d+) objects", stdout)
    return PruneResult(
        total_objects=int(total.group(1)) if total else None,
        deleted_objects=int(deleted.group(1)) if deleted else 0,
        output=stdout,
    )
