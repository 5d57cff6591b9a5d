"""Validate ref names, checksums and remote names before they reach a command line."""

from __future__ import annotations

import re

from .errors import InvalidChecksum, InvalidRef, InvalidRemoteName

MAX_REF_LENGTH = 255
_SEGMENT_RE = re.compile(r"[A-Za-z0-9._-]+")
_CHECKSUM_RE = re.compile(r"[0-9a-f]{64}")
_REMOTE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def validate_ref(ref: str) -> str:
    """Return ``ref`` unchanged if it is a safe ostree ref name, else raise InvalidRef."""
    if not isinstance(ref, str):
        raise InvalidRef(f"ref must be a string, got {type(ref).__name__}")
    if ref == "":
        raise InvalidRef("ref is empty")
    if len(ref) > MAX_REF_LENGTH:
        raise InvalidRef(f"ref {ref[:40]!r}... is {len(ref)} characters long; the limit is {MAX_REF_LENGTH}")
    for segment in ref.split("/"):
        if segment == "":
            raise InvalidRef(f"ref {ref!r} has an empty path segment (leading, trailing or doubled '/')")
        if segment in (".", ".."):
            raise InvalidRef(f"ref {ref!r} has a {segment!r} segment")
        if segment.startswith("-"):
            raise InvalidRef(
                f"ref {ref!r} has a segment starting with '-' ({segment!r}), which would read as an option"
            )
        if not _SEGMENT_RE.fullmatch(segment):
            bad = sorted({ch for ch in segment if not _SEGMENT_RE.fullmatch(ch)})
            raise InvalidRef(f"ref {ref!r} contains {''.join(bad)!r}; only A-Z a-z 0-9 . _ - and '/' are allowed")
    return ref


def validate_checksum(value: str) -> str:
    """Return ``value`` lowercased if it is a full 64-hex checksum, else raise InvalidChecksum."""
    if not isinstance(value, str):
        raise InvalidChecksum(f"checksum must be a string, got {type(value).__name__}")
    lowered = value.lower()
    if not _CHECKSUM_RE.fullmatch(lowered):
        if len(value) != 64:
            raise InvalidChecksum(
                f"checksum {value!r} is {len(value)} characters long; a full checksum is 64 hex digits"
            )
        raise InvalidChecksum(f"checksum {value!r} contains characters other than hex digits")
    return lowered


def is_checksum(value: str) -> bool:
    """Return True if ``value`` is a full 64-hex checksum (any case)."""
    return isinstance(value, str) and _CHECKSUM_RE.fullmatch(value.lower()) is not None


def validate_remote_name(name: str) -> str:
    """Return ``name`` unchanged if it is a safe remote name, else raise InvalidRemoteName."""
    if not isinstance(name, str) or name == "":
        raise InvalidRemoteName("remote name is empty")
    if len(name) > 64:
        raise InvalidRemoteName(f"remote name {name[:40]!r}... is longer than 64 characters")
    if not _REMOTE_RE.fullmatch(name):
        raise InvalidRemoteName(
            f"remote name {name!r} is not allowed; use letters, digits, '.', '_' and '-', not starting with '-' or '.'"
        )
    return name
