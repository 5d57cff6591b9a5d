"""Parse the text ostree 2022.7 prints (formats recorded in ostree-lab-notes.md section 3)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from . import gvariant
from .errors import OstreeError
from .model import CommitInfo, DiffEntry, DiffResult, DiffStatus, PruneResult, PullResult

HISTORY_CUT_MARKER = "<< History beyond this commit not fetched >>"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"
_KEY_ID_RE = re.compile(r"using \S+ key ID ([0-9A-Fa-f]+)\s*$")
_FOUND_RE = re.compile(r"^Found (\d+) signatures?:")
_PULL_LOCAL_RE = re.compile(r"(\d+) metadata, (\d+) content objects (?:imported|fetched)")
_NOT_FOUND_MARKERS = ("not found", "No such metadata object", "Couldn't find file object", "No such branch")


def is_not_found_error(stderr: str) -> bool:
    """Return True if ostree's stderr says the commit or ref does not exist."""
    return any(marker in stderr for marker in _NOT_FOUND_MARKERS)


def parse_date(value: str) -> datetime:
    """Parse a ``Date:`` value (``2026-11-25 19:12:05 +0000``) into an aware UTC datetime."""
    return datetime.strptime(value.strip(), _DATE_FORMAT).astimezone(UTC)


def _header_fields(lines: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith("commit "):
            fields["commit"] = line.split(None, 1)[1].strip()
        elif ":" in line and not line.startswith(" "):
            key, _, value = line.partition(":")
            if key in ("Parent", "ContentChecksum", "Date", "Version"):
                fields[key] = value.strip()
    return fields


def parse_signature_key_ids(text: str) -> list[str]:
    """Return the long key IDs of the signatures listed in ``ostree show`` output, in order."""
    ids = []
    for line in text.splitlines():
        match = _KEY_ID_RE.search(line)
        if match and "Signature made" in line:
            ids.append(match.group(1).upper())
    return ids


def show_checksum(text: str) -> str:
    """Return the checksum on the ``commit`` line ``ostree show`` prints first."""
    for line in text.splitlines():
        if line.startswith("commit "):
            return line.split(None, 1)[1].strip()
    raise OstreeError("ostree show printed no commit line")


def parse_show(text: str, commit_object: bytes) -> CommitInfo:
    """Parse ``ostree show COMMIT`` (header and signatures) together with the commit object's bytes (the metadata).

    Subject, body, parent and metadata come from the object, so no text is re-parsed and ``ostree.sizes`` is never
    decoded: the cost does not grow with the number of files in the tree.
    """
    lines = text.splitlines()
    fields = _header_fields(lines)
    if "commit" not in fields or "ContentChecksum" not in fields or "Date" not in fields:
        raise OstreeError(f"ostree show printed an unexpected header: {lines[:6]!r}")
    metadata, parent, subject, body = gvariant.decode_commit_object(commit_object)
    found = next((int(m.group(1)) for line in lines if (m := _FOUND_RE.match(line))), 0)
    return _commit_info(fields, metadata, parent, subject, body, found, text)


def _commit_info(
    fields: dict[str, str],
    metadata: dict[str, object],
    parent: str | None,
    subject: object,
    body: object,
    found: int,
    text: str,
) -> CommitInfo:
    version = metadata.get("version")
    input_hash = metadata.get("rpmostree.inputhash")
    binding = metadata.get("ostree.ref-binding")
    pkglist = metadata.get(gvariant.PKGLIST_KEY)
    return CommitInfo(
        checksum=fields["commit"],
        parent=fields.get("Parent") or parent,
        content_checksum=fields["ContentChecksum"],
        timestamp=parse_date(fields["Date"]),
        version=version if isinstance(version, str) else None,
        subject=str(subject),
        body=str(body),
        metadata=metadata,
        packages=gvariant.packages_from_value(pkglist) if pkglist is not None else (),
        ref_binding=tuple(str(r) for r in binding) if isinstance(binding, list) else None,
        signatures=found,
        input_hash=input_hash if isinstance(input_hash, str) else None,
        signature_key_ids=tuple(parse_signature_key_ids(text)),
    )


def _strip_indent(line: str) -> str:
    return line[4:] if line.startswith("    ") else line


def parse_log(text: str) -> tuple[list[CommitInfo], bool]:
    """Parse ``ostree log`` output; return the commits (newest first) and whether history was cut short."""
    commits: list[CommitInfo] = []
    truncated = False
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("commit "):
            blocks.append([line])
        elif line.strip() == HISTORY_CUT_MARKER:
            truncated = True
        elif blocks:
            blocks[-1].append(line)
    for block in blocks:
        header_end = block.index("") if "" in block else len(block)
        fields = _header_fields(block[:header_end])
        message = block[header_end + 1 :]
        while message and message[-1] == "":
            message.pop()
        subject = _strip_indent(message[0]) if message else ""
        body_lines: list[str] = []
        if len(message) > 2 and message[1] == "":
            # Blank lines inside the body are printed as four spaces; only a truly empty line ends the message.
            for line in message[2:]:
                if line == "":
                    break
                body_lines.append(_strip_indent(line))
        commits.append(
            CommitInfo(
                checksum=fields["commit"],
                parent=fields.get("Parent"),
                content_checksum=fields.get("ContentChecksum", ""),
                timestamp=parse_date(fields["Date"]),
                version=fields.get("Version"),
                subject=subject,
                body="\n".join(body_lines),
            )
        )
    return commits, truncated


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
