"""Plain helpers that build test trees and packages (importable from any test package)."""

from __future__ import annotations

import os
import shutil
import stat
import textwrap
from pathlib import Path

from kinoite_portal.ostree import Package

KERNEL_VERSION = "6.11.4-301.fc41.x86_64"


def sample_packages() -> list[Package]:
    """Return a small package list with a non-zero epoch, as rpm-ostree records it."""
    return [
        Package("bash", 0, "5.2.32", "1.fc41", "x86_64"),
        Package("kernel", 0, "6.11.4", "301.fc41", "x86_64"),
        Package("shadow-utils", 2, "4.15.1", "12.fc41", "x86_64"),
    ]


def small_tree(dest: Path, *, version: str = "41.20261125.0", tools: int = 5) -> Path:
    """Write a small deployable-looking tree (kernel, os-release, usr/etc, a few tools) and return ``dest``."""
    (dest / "usr/bin").mkdir(parents=True, exist_ok=True)
    (dest / "usr/etc").mkdir(parents=True, exist_ok=True)
    (dest / "usr/lib/modules" / KERNEL_VERSION).mkdir(parents=True, exist_ok=True)
    (dest / "usr/lib/os-release").write_text(f"NAME=\"Fedora Linux\"\nVERSION_ID=41\nOSTREE_VERSION='{version}'\n")
    (dest / "usr/lib/modules" / KERNEL_VERSION / "vmlinuz").write_bytes(b"\x7fkernel" * 64)
    (dest / "usr/etc/hostname").write_text("localhost\n")
    for i in range(1, tools + 1):
        tool = dest / "usr/bin" / f"tool{i}"
        tool.write_text(f"#!/bin/sh\necho tool{i}\n")
        tool.chmod(0o755)
    return dest


def evolve_tree(source: Path, dest: Path, *, version: str = "41.20261126.0") -> Path:
    """Copy ``source`` to ``dest`` and change it: 2 modified, 1 removed, 1 added (the lab's v1 -> v2 shape)."""
    shutil.copytree(source, dest, symlinks=True)
    (dest / "usr/lib/os-release").write_text(f"NAME=\"Fedora Linux\"\nVERSION_ID=41\nOSTREE_VERSION='{version}'\n")
    with (dest / "usr/bin/tool1").open("a") as handle:
        handle.write("# patched\n")
    (dest / "usr/bin/tool2").unlink()
    newtool = dest / "usr/bin/newtool"
    newtool.write_text("#!/bin/sh\necho new\n")
    newtool.chmod(0o755)
    return dest


def write_script(path: Path, body: str) -> Path:
    """Write an executable /bin/sh script (dedented) to ``path`` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body).lstrip("\n"))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def path_with(directory: Path) -> str:
    """Return PATH with ``directory`` first."""
    return f"{directory}{os.pathsep}{os.environ.get('PATH', '')}"
