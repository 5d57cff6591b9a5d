"""Build small, deterministic bootable trees for the ``local`` compose backend (rpm-ostree cannot run here)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import NamedTuple

from .model import Package

_PKG_NAME_RE = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]*")
_KVER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*")
_RELEASEVER_RE = re.compile(r"[0-9A-Za-z]+")
_VERSION_RE = re.compile(r"(?P<releasever>[0-9A-Za-z]+)\.(?P<date>\d{8})\.(?P<n>\d+)")
KERNEL_IMAGE_SIZE = 4096
INITRAMFS_SIZE = 2048


class VersionParts(NamedTuple):
    """The parts of an rpm-ostree automatic version ``<releasever>.<YYYYMMDD>.<n>``."""

    releasever: str
    day: date
    serial: int


def parse_version(version: str) -> VersionParts:
    """Split ``41.20261125.0`` into (releasever, date, serial); raise ValueError for other shapes."""
    match = _VERSION_RE.fullmatch(version)
    if match is None:
        raise ValueError(f"version {version!r} is not <releasever>.<YYYYMMDD>.<n>")
    raw = match.group("date")
    try:
        day = date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        raise ValueError(f"version {version!r} has an impossible date {raw}") from None
    return VersionParts(match.group("releasever"), day, int(match.group("n")))


def next_version(releasever: str | int, day: date, existing_versions: Iterable[str]) -> str:
    """Return rpm-ostree's next automatic version: ``<releasever>.<YYYYMMDD>.<n>``, n counting up within a day."""
    rel = str(releasever)
    if not _RELEASEVER_RE.fullmatch(rel):
        raise ValueError(f"releasever {rel!r} must be letters and digits")
    serials = []
    for existing in existing_versions:
        try:
            parts = parse_version(existing)
        except ValueError:
            continue
        if parts.releasever == rel and parts.day == day:
            serials.append(parts.serial)
    serial = max(serials) + 1 if serials else 0
    return f"{rel}.{day:%Y%m%d}.{serial}"


def canonical_json(value: object) -> str:
    """Return ``value`` as JSON with sorted keys and no insignificant whitespace."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_input_hash(treefile: Mapping[str, object], packages: Iterable[Package]) -> str:
    """Return the sha256 of the canonical JSON of the treefile and the sorted package list."""
    pkgs = sorted(p.as_tuple() for p in packages)
    return hashlib.sha256(canonical_json({"packages": pkgs, "treefile": treefile}).encode("utf-8")).hexdigest()


def _blob(label: str, size: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out.extend(hashlib.sha256(f"{label}:{counter}".encode()).digest())
        counter += 1
    return bytes(out[:size])


def _write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    # Explicit modes: the umask of the worker must not change the tree's checksum.
    path.chmod(mode)


def _releasever(treefile: Mapping[str, object], version: str) -> str:
    value = treefile.get("releasever")
    if value is None:
        return parse_version(version).releasever
    rel = str(value)
    if not _RELEASEVER_RE.fullmatch(rel):
        raise ValueError(f"treefile releasever {rel!r} must be letters and digits")
    return rel


def build_tree(
    dest: str | os.PathLike[str],
    *,
    treefile: Mapping[str, object],
    packages: Sequence[Package],
    version: str,
    kernel_version: str,
) -> None:
    """Write a deterministic bootable tree into the empty directory ``dest``.

    The tree has what ``ostree admin deploy`` needs (``usr/lib/modules/KVER/vmlinuz`` and ``usr/lib/os-release``)
    plus an initramfs, ``usr/etc``, the treefile as JSON and one small file per package. Treefile
    ``postprocess`` / ``postprocess-script`` entries are shell run by rpm-ostree in the target root; they are NOT
    executed here (that would run arbitrary shell on the worker): they are recorded in
    ``usr/share/kinoite-portal/postprocess-not-run.json`` instead.
    """
    root = Path(dest)
    if root.exists() and any(root.iterdir()):
        raise ValueError(f"tree destination {root} is not empty")
    if not _KVER_RE.fullmatch(kernel_version):
        raise ValueError(f"kernel version {kernel_version!r} is not a plain version string")
    if any(ch in version for ch in "'\"\\\n$`"):
        raise ValueError(f"version {version!r} contains quoting characters")
    for pkg in packages:
        if not _PKG_NAME_RE.fullmatch(pkg.name):
            raise ValueError(f"package name {pkg.name!r} is not a safe file name")
    releasever = _releasever(treefile, version)
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)

    os_release = "\n".join(
        [
            'NAME="Fedora Linux"',
            f'VERSION="{releasever} (Kinoite)"',
            "ID=fedora",
            f"VERSION_ID={releasever}",
            'VARIANT="Kinoite"',
            "VARIANT_ID=kinoite",
            f'PRETTY_NAME="Fedora Linux {releasever} (Kinoite)"',
            f"OSTREE_VERSION='{version}'",
            "",
        ]
    )
    _write(root / "usr/lib/os-release", os_release)
    modules = root / "usr/lib/modules" / kernel_version
    _write(modules / "vmlinuz", _blob(f"vmlinuz:{kernel_version}", KERNEL_IMAGE_SIZE), 0o755)
    _write(modules / "initramfs.img", _blob(f"initramfs:{kernel_version}", INITRAMFS_SIZE), 0o644)
    _write(root / "usr/etc/hostname", "localhost\n")
    _write(root / "usr/etc/fedora-release", f"Fedora release {releasever} (Kinoite)\n")
    _write(
        root / "usr/share/rpm-ostree/treefile.json",
        json.dumps(treefile, sort_keys=True, indent=2, ensure_ascii=False) + "\n",
    )

    by_name: dict[str, list[str]] = defaultdict(list)
    for pkg in packages:
        by_name[pkg.name].append(pkg.nevra)
    for name, nevras in sorted(by_name.items()):
        listing = "".join(f"{n}\n" for n in sorted(nevras))
        _write(root / "usr/share/kinoite-portal/packages" / name, listing)
        _write(root / "usr/bin" / name, f"#!/bin/sh\necho {name}\n", 0o755)

    postprocess = {key: treefile[key] for key in ("postprocess", "postprocess-script") if key in treefile}
    if postprocess:
        _write(
            root / "usr/share/kinoite-portal/postprocess-not-run.json",
            json.dumps(postprocess, sort_keys=True, indent=2, ensure_ascii=False) + "\n",
        )
    for directory in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        directory.chmod(0o755)
