"""A small, deterministic catalogue of Fedora-41-like packages for the ``local`` compose backend.

It stands in for the ``fedora`` and ``fedora-updates`` repos that rpm-ostree would depsolve against. The catalogue
has a base snapshot (wave 0) and dated update waves; wave N is the base with waves 1..N applied. The ``local``
backend composes treefile revision r against wave r-1 (the demo's stand-in for "the mirrors moved on since the last
edit"), so composing one revision twice gives the same packages (state ``unchanged``) while a new revision brings
real upgrades that package diffs can show.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from kinoite_portal.ostree import Package

ARCH = "x86_64"

# name: (epoch, version, release, arch, requires)
BASE: dict[str, tuple[int, str, str, str, tuple[str, ...]]] = {
    "filesystem": (0, "3.18", "23.fc41", ARCH, ()),
    "glibc": (0, "2.40", "9.fc41", ARCH, ("filesystem",)),
    "bash": (0, "5.2.32", "1.fc41", ARCH, ("glibc",)),
    "coreutils": (0, "9.5", "10.fc41", ARCH, ("glibc",)),
    "shadow-utils": (2, "4.15.1", "12.fc41", ARCH, ("glibc",)),
    "openssl-libs": (1, "3.2.2", "9.fc41", ARCH, ("glibc",)),
    "dbus-broker": (0, "36", "4.fc41", ARCH, ("glibc",)),
    "fedora-release-common": (0, "41", "28", "noarch", ()),
    "fedora-release-kinoite": (0, "41", "28", "noarch", ("fedora-release-common",)),
    "kernel": (0, "6.11.4", "301.fc41", ARCH, ("kernel-core", "kernel-modules")),
    "kernel-core": (0, "6.11.4", "301.fc41", ARCH, ()),
    "kernel-modules": (0, "6.11.4", "301.fc41", ARCH, ("kernel-core",)),
    "systemd": (0, "256.7", "1.fc41", ARCH, ("glibc", "dbus-broker", "systemd-libs")),
    "systemd-libs": (0, "256.7", "1.fc41", ARCH, ("glibc",)),
    "ostree-libs": (0, "2024.8", "1.fc41", ARCH, ("glibc", "openssl-libs")),
    "rpm-ostree": (0, "2024.8", "1.fc41", ARCH, ("ostree-libs", "systemd")),
    "qt6-qtbase": (0, "6.8.0", "1.fc41", ARCH, ("glibc", "openssl-libs")),
    "kf6-kio": (0, "6.7.0", "1.fc41", ARCH, ("qt6-qtbase",)),
    "plasma-workspace": (0, "6.2.1", "1.fc41", ARCH, ("kf6-kio", "qt6-qtbase", "systemd")),
    "plasma-desktop": (0, "6.2.1", "1.fc41", ARCH, ("plasma-workspace",)),
    "sddm": (0, "0.21.0", "6.fc41", ARCH, ("qt6-qtbase", "systemd")),
    "NetworkManager": (1, "1.48.10", "1.fc41", ARCH, ("systemd", "glibc")),
    "firewalld": (0, "2.2.1", "1.fc41", "noarch", ("systemd",)),
    "vim-enhanced": (2, "9.1.785", "1.fc41", ARCH, ("glibc",)),
    "git": (0, "2.47.0", "1.fc41", ARCH, ("git-core",)),
    "git-core": (0, "2.47.0", "1.fc41", ARCH, ("openssl-libs",)),
    "htop": (0, "3.3.0", "4.fc41", ARCH, ("glibc",)),
    "flatpak": (0, "1.15.10", "1.fc41", ARCH, ("ostree-libs", "systemd")),
    "firefox": (0, "131.0.3", "1.fc41", ARCH, ("glibc",)),
    "PackageKit": (0, "1.2.8", "6.fc41", ARCH, ("glibc",)),
    "toolbox": (0, "0.1.1", "1.fc41", ARCH, ("glibc",)),
    "tmux": (0, "3.5a", "1.fc41", ARCH, ("glibc",)),
}


@dataclass(frozen=True)
class Wave:
    """One day's updates: package name -> (version, release)."""

    day: date
    updates: dict[str, tuple[str, str]]


WAVES: tuple[Wave, ...] = (
    Wave(
        date(2024, 11, 4),
        {
            "kernel": ("6.11.5", "300.fc41"),
            "kernel-core": ("6.11.5", "300.fc41"),
            "kernel-modules": ("6.11.5", "300.fc41"),
            "plasma-workspace": ("6.2.2", "1.fc41"),
            "plasma-desktop": ("6.2.2", "1.fc41"),
            "firefox": ("132.0", "1.fc41"),
            "openssl-libs": ("3.2.2", "10.fc41"),
        },
    ),
    Wave(
        date(2024, 11, 18),
        {
            "kernel": ("6.11.7", "300.fc41"),
            "kernel-core": ("6.11.7", "300.fc41"),
            "kernel-modules": ("6.11.7", "300.fc41"),
            "systemd": ("256.8", "1.fc41"),
            "systemd-libs": ("256.8", "1.fc41"),
            "git": ("2.47.1", "1.fc41"),
            "git-core": ("2.47.1", "1.fc41"),
            "vim-enhanced": ("9.1.866", "1.fc41"),
        },
    ),
    Wave(
        date(2024, 12, 2),
        {
            "kernel": ("6.11.10", "300.fc41"),
            "kernel-core": ("6.11.10", "300.fc41"),
            "kernel-modules": ("6.11.10", "300.fc41"),
            "plasma-workspace": ("6.2.4", "1.fc41"),
            "plasma-desktop": ("6.2.4", "1.fc41"),
            "qt6-qtbase": ("6.8.1", "1.fc41"),
            "rpm-ostree": ("2024.9", "1.fc41"),
            "firefox": ("133.0", "1.fc41"),
        },
    ),
)


class PackageNotFound(LookupError):
    """A requested package is in none of the catalogue's repos (what rpm-ostree's depsolve reports)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        super().__init__(f"Packages not found: {', '.join(self.names)}")


def wave_count() -> int:
    """Return how many waves there are, the base snapshot included."""
    return len(WAVES) + 1


def snapshot(wave: int) -> dict[str, Package]:
    """Return every package as of ``wave`` (0 = base; larger numbers stop at the newest wave)."""
    wave = max(0, min(wave, len(WAVES)))
    packages = {
        name: Package(name, epoch, version, release, arch) for name, (epoch, version, release, arch, _) in BASE.items()
    }
    for update in WAVES[:wave]:
        for name, (version, release) in update.updates.items():
            old = packages[name]
            packages[name] = Package(name, old.epoch, version, release, old.arch)
    return packages


def resolve(names: Iterable[str], *, wave: int, exclude: Iterable[str] = ()) -> list[Package]:
    """Return the requested packages and their dependencies from ``wave``, sorted by name.

    Raise PackageNotFound for names the catalogue does not have, and ValueError when a requested package is also
    excluded (rpm-ostree fails the same way).
    """
    requested = [name for entry in names for name in entry.split()]
    excluded = {name for entry in exclude for name in entry.split()}
    missing = sorted({name for name in requested if name not in BASE})
    if missing:
        raise PackageNotFound(missing)
    clash = sorted(set(requested) & excluded)
    if clash:
        raise ValueError(f"packages both requested and excluded: {', '.join(clash)}")
    available = snapshot(wave)
    chosen: set[str] = set()
    todo = list(requested)
    while todo:
        name = todo.pop()
        if name in chosen or name in excluded:
            continue
        chosen.add(name)
        todo.extend(BASE[name][4])
    return [available[name] for name in sorted(chosen)]
