"""Synthetic OS trees for the ostree items: half random (binaries), half text, grouped into "packages"."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from kinoite_portal.ostree import Package

FILES_PER_PACKAGE = 20
_WORDS = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "elit",
    "sed",
    "tempor",
    "labore",
    "magna",
    "usr",
    "lib",
    "systemd",
    "kernel",
    "plasma",
    "kde",
    "qt",
    "mesa",
    "dbus",
]


@dataclass
class Tree:
    root: Path
    packages: list[str]
    files: list[Path]


def _text(rng: random.Random, size: int) -> bytes:
    lines = []
    total = 0
    while total < size:
        line = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 14))) + "\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def build(
    root: Path, *, files: int, total_bytes: int, seed: int = 1, files_per_package: int = FILES_PER_PACKAGE
) -> Tree:
    """Write ``files`` files of ``total_bytes`` in all: even ones random, odd ones text, ``files_per_package`` each."""
    rng = random.Random(seed)
    size = max(64, total_bytes // files)
    text_block = _text(rng, size * 64)
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/os-release").write_text('NAME="Fedora Linux"\nVARIANT_ID=kinoite\nVERSION_ID=41\n')
    kver = root / "usr/lib/modules/6.11.4-301.fc41.x86_64"
    kver.mkdir(parents=True)
    (kver / "vmlinuz").write_bytes(rng.randbytes(4096))
    packages: list[str] = []
    written: list[Path] = []
    for index in range(files):
        package = f"pkg{index // files_per_package:04d}"
        if not packages or packages[-1] != package:
            packages.append(package)
        if index % 2 == 0:
            path = root / "usr/lib" / package / f"lib{index:05d}.so"
            data = rng.randbytes(size)
        else:
            path = root / "usr/share" / package / f"doc{index:05d}.txt"
            start = rng.randrange(0, len(text_block) - size)
            data = f"# {package} file {index}\n".encode() + text_block[start : start + size]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return Tree(root=root, packages=packages, files=written)


def _modify(path: Path, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    if path.suffix == ".so":
        # A rebuilt binary: a few kilobytes differ, the rest is the same.
        length = min(len(data), 4096)
        start = rng.randrange(0, max(1, len(data) - length))
        data[start : start + length] = rng.randbytes(length)
    else:
        data += _text(rng, 300)
    path.write_bytes(bytes(data))


def change_files(tree: Tree, *, modified: int, added: int, removed: int, seed: int = 2) -> None:
    """Change files scattered over the tree, as lab notes section 4.2 did (100 modified, 20 added, 10 removed)."""
    rng = random.Random(seed)
    picks = rng.sample(tree.files, min(len(tree.files), modified + removed))
    for path in picks[:modified]:
        _modify(path, rng)
    for path in picks[modified:]:
        path.unlink()
        tree.files.remove(path)
    for index in range(added):
        path = tree.root / "usr/lib/added" / f"new{seed}-{index:03d}.so"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(4096))
        tree.files.append(path)


def change_packages(tree: Tree, *, count: int, seed: int = 3) -> list[str]:
    """Update ``count`` packages: every file of each is rebuilt (a few KB differ); return their names."""
    rng = random.Random(seed)
    chosen = rng.sample(tree.packages, min(count, len(tree.packages)))
    for path in tree.files:
        if path.parent.name in chosen:
            _modify(path, rng)
    return chosen


def package_list(tree: Tree, *, updated: list[str] = ()) -> list[Package]:  # type: ignore[assignment]
    """Return an ``rpmostree.rpmdb.pkglist`` for the tree; updated packages get a newer release."""
    return [Package(name, 0, "1.0", "2.fc41" if name in updated else "1.fc41", "x86_64") for name in tree.packages]
