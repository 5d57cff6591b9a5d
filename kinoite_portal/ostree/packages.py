"""Compare RPM versions the way rpm does, and diff two package lists."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .model import Package


def _isalpha(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _isdigit(ch: str) -> bool:
    return "0" <= ch <= "9"


def rpmvercmp(a: str, b: str) -> int:
    """Return -1, 0 or 1 comparing two version (or release) strings with rpm's algorithm, ``~`` and ``^`` included."""
    if a == b:
        return 0
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        while i < la and not (_isalpha(a[i]) or _isdigit(a[i]) or a[i] in "~^"):
            i += 1
        while j < lb and not (_isalpha(b[j]) or _isdigit(b[j]) or b[j] in "~^"):
            j += 1
        ca = a[i] if i < la else ""
        cb = b[j] if j < lb else ""
        # A tilde sorts before everything, even the end of the string: 1.0~rc1 < 1.0.
        if ca == "~" or cb == "~":
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i += 1
            j += 1
            continue
        # A caret sorts after the end of the string but before anything else: 1.0 < 1.0^git1 < 1.0.1.
        if ca == "^" or cb == "^":
            if ca == "":
                return -1
            if cb == "":
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i += 1
            j += 1
            continue
        if not (ca and cb):
            break
        si, sj = i, j
        if _isdigit(ca):
            while i < la and _isdigit(a[i]):
                i += 1
            while j < lb and _isdigit(b[j]):
                j += 1
            isnum = True
        else:
            while i < la and _isalpha(a[i]):
                i += 1
            while j < lb and _isalpha(b[j]):
                j += 1
            isnum = False
        seg_a, seg_b = a[si:i], b[sj:j]
        if seg_a == "":
            return -1
        if seg_b == "":
            # A numeric segment is newer than an alphabetic one.
            return 1 if isnum else -1
        if isnum:
            seg_a = seg_a.lstrip("0")
            seg_b = seg_b.lstrip("0")
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1
        if seg_a != seg_b:
            return 1 if seg_a > seg_b else -1
    rest_a = i >= la
    rest_b = j >= lb
    if rest_a and rest_b:
        return 0
    return -1 if rest_a else 1


def compare_evr(a: tuple[int, str, str], b: tuple[int, str, str]) -> int:
    """Return -1, 0 or 1 comparing two (epoch, version, release) triples: epoch first, then version, then release."""
    if a[0] != b[0]:
        return 1 if a[0] > b[0] else -1
    rc = rpmvercmp(a[1], b[1])
    if rc:
        return rc
    return rpmvercmp(a[2], b[2])


_EVR_RE = re.compile(r"(?:(\d+):)?([^-]+)(?:-(.+))?")


def parse_evr(evr: str) -> tuple[int, str, str]:
    """Split ``[epoch:]version[-release]`` into (epoch, version, release)."""
    match = _EVR_RE.fullmatch(evr)
    if match is None:
        raise ValueError(f"not an [epoch:]version[-release] string: {evr!r}")
    epoch, version, release = match.groups()
    return (int(epoch or 0), version, release or "")


@dataclass(frozen=True)
class EVRKey:
    """A sort key ordering (epoch, version, release) the way rpm does."""

    epoch: int
    version: str
    release: str

    def _cmp(self, other: object) -> int:
        if not isinstance(other, EVRKey):
            raise TypeError(f"cannot compare EVRKey with {type(other).__name__}")
        return compare_evr((self.epoch, self.version, self.release), (other.epoch, other.version, other.release))

    def __lt__(self, other: EVRKey) -> bool:
        return self._cmp(other) < 0

    def __le__(self, other: EVRKey) -> bool:
        return self._cmp(other) <= 0

    def __gt__(self, other: EVRKey) -> bool:
        return self._cmp(other) > 0

    def __ge__(self, other: EVRKey) -> bool:
        return self._cmp(other) >= 0


class PackageChange(NamedTuple):
    """One entry of a package diff: old is None when added, new is None when removed."""

    name: str
    old: Package | None
    new: Package | None


@dataclass(frozen=True)
class PackageDiff:
    """Packages added, removed, upgraded and downgraded between two commits, each sorted by name."""

    added: list[PackageChange] = field(default_factory=list)
    removed: list[PackageChange] = field(default_factory=list)
    upgraded: list[PackageChange] = field(default_factory=list)
    downgraded: list[PackageChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Return True if nothing changed."""
        return not (self.added or self.removed or self.upgraded or self.downgraded)


def _evr(pkg: Package) -> tuple[int, str, str]:
    return (pkg.epoch, pkg.version, pkg.release)


def diff_packages(old: Iterable[Package], new: Iterable[Package]) -> PackageDiff:
    """Return what changed from ``old`` to ``new``, matching packages by (name, arch)."""
    before: dict[tuple[str, str], list[Package]] = defaultdict(list)
    after: dict[tuple[str, str], list[Package]] = defaultdict(list)
    for pkg in old:
        before[pkg.key].append(pkg)
    for pkg in new:
        after[pkg.key].append(pkg)
    result = PackageDiff()
    for key in sorted(set(before) | set(after)):
        # Install-only packages (kernel) can appear several times under one key; drop the versions both sides share.
        olds = [p for p in before.get(key, []) if p not in after.get(key, [])]
        news = [p for p in after.get(key, []) if p not in before.get(key, [])]
        if len(olds) == 1 and len(news) == 1:
            rc = compare_evr(_evr(olds[0]), _evr(news[0]))
            target = result.upgraded if rc < 0 else result.downgraded if rc > 0 else None
            if target is not None:
                target.append(PackageChange(key[0], olds[0], news[0]))
                continue
        result.removed.extend(PackageChange(key[0], p, None) for p in olds)
        result.added.extend(PackageChange(key[0], None, p) for p in news)
    return result
