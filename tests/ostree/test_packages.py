from __future__ import annotations

import pytest

from kinoite_portal.ostree import Package, compare_evr, diff_packages, rpmvercmp
from kinoite_portal.ostree.packages import PackageChange, parse_evr


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0", 0),
        ("1.0", "1.0.1", -1),
        ("1.0.1", "1.0", 1),
        ("1.0~rc1", "1.0", -1),
        ("1.0~rc1", "1.0~rc2", -1),
        ("1.0~rc1~git1", "1.0~rc1", -1),
        ("1.0^", "1.0", 1),
        ("1.0^git1", "1.0", 1),
        ("1.0^git1", "1.0.1", -1),
        ("1.0^git1", "1.0^git2", -1),
        ("1.0^git1~pre", "1.0^git1", -1),
        ("2.0", "10.0", -1),
        ("1.010", "1.9", 1),
        ("1.05", "1.5", 0),
        ("1.0a", "1.0", 1),
        ("1.0", "1.0a", -1),
        ("a", "1", -1),
        ("1", "a", 1),
        ("1.0.fc41", "1.0.fc40", 1),
        ("5.2.32", "5.2.37", -1),
        ("1_0", "1.0", 0),
        ("2.fc41", "1.fc41", 1),
        ("12.fc41", "2.fc41", 1),
        ("1.0", "", 1),
        ("", "", 0),
        ("abc", "abd", -1),
        ("xyz10", "xyz2", 1),
    ],
)
def test_it_compares_like_rpm(a: str, b: str, expected: int) -> None:
    assert rpmvercmp(a, b) == expected
    assert rpmvercmp(b, a) == -expected


def test_epoch_wins_over_version() -> None:
    assert compare_evr((1, "1.0", "1"), (0, "99.0", "99")) == 1


def test_release_decides_when_versions_are_equal() -> None:
    assert compare_evr((0, "4.15.1", "12.fc41"), (0, "4.15.1", "2.fc41")) == 1
    assert compare_evr((0, "4.15.1", "1.fc41"), (0, "4.15.1", "1.fc41")) == 0


def test_it_parses_evr_strings() -> None:
    assert parse_evr("2:4.15.1-12.fc41") == (2, "4.15.1", "12.fc41")
    assert parse_evr("1.0") == (0, "1.0", "")


def test_packages_sort_rpm_style() -> None:
    pkgs = [
        Package("a", 0, "1.0", "1", "x86_64"),
        Package("a", 0, "1.0~rc1", "1", "x86_64"),
        Package("a", 1, "0.1", "1", "x86_64"),
        Package("a", 0, "1.0.1", "1", "x86_64"),
    ]
    ordered = sorted(pkgs, key=lambda p: p.sort_key)
    assert [p.evr for p in ordered] == ["1.0~rc1-1", "1.0-1", "1.0.1-1", "1:0.1-1"]


def test_it_diffs_package_lists_by_name_and_arch() -> None:
    old = [
        Package("bash", 0, "5.2.32", "1.fc41", "x86_64"),
        Package("shadow-utils", 2, "4.15.1", "12.fc41", "x86_64"),
        Package("gone", 0, "1", "1", "noarch"),
        Package("glibc", 0, "2.40", "3.fc41", "x86_64"),
        Package("glibc", 0, "2.40", "3.fc41", "i686"),
        Package("same", 0, "1", "1", "noarch"),
    ]
    new = [
        Package("bash", 0, "5.2.37", "1.fc41", "x86_64"),
        Package("shadow-utils", 1, "9.0", "1.fc41", "x86_64"),
        Package("fresh", 0, "1", "1", "noarch"),
        Package("glibc", 0, "2.40", "4.fc41", "x86_64"),
        Package("same", 0, "1", "1", "noarch"),
    ]
    diff = diff_packages(old, new)
    assert [c.name for c in diff.upgraded] == ["bash", "glibc"]
    assert diff.downgraded == [PackageChange("shadow-utils", old[1], new[1])]
    assert diff.added == [PackageChange("fresh", None, new[2])]
    assert diff.removed == [PackageChange("glibc", old[4], None), PackageChange("gone", old[2], None)]
    assert not diff.empty
    assert diff_packages(old, old).empty


def test_it_handles_install_only_packages_like_the_kernel() -> None:
    k1 = Package("kernel", 0, "6.11.4", "301.fc41", "x86_64")
    k2 = Package("kernel", 0, "6.11.5", "300.fc41", "x86_64")
    k3 = Package("kernel", 0, "6.12.1", "200.fc41", "x86_64")
    diff = diff_packages([k1, k2], [k2, k3])
    assert diff.upgraded == [PackageChange("kernel", k1, k3)]
    diff = diff_packages([k1], [k1, k2])
    assert diff.added == [PackageChange("kernel", None, k2)]
    assert diff.upgraded == []
