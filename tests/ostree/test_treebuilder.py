from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from kinoite_portal.ostree import Package, Repo, build_tree, compute_input_hash, next_version, parse_version
from kinoite_portal.ostree.treebuilder import VersionParts
from tests.ostree.helpers import KERNEL_VERSION, sample_packages

TREEFILE: dict[str, object] = {
    "ref": "fedora/x86_64/kinoite/dev",
    "releasever": 41,
    "packages": ["bash", "kernel", "shadow-utils"],
    "postprocess": ["#!/bin/sh\nrm -rf /"],
}


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(str(path.relative_to(root)).encode() + oct(path.stat().st_mode).encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def _build(dest: Path, **overrides: object) -> Path:
    args: dict[str, object] = {
        "treefile": TREEFILE,
        "packages": sample_packages(),
        "version": "41.20261125.0",
        "kernel_version": KERNEL_VERSION,
    }
    args.update(overrides)
    build_tree(dest, **args)  # type: ignore[arg-type]
    return dest


def test_it_builds_the_same_tree_twice(tmp_path: Path) -> None:
    assert _digest(_build(tmp_path / "a")) == _digest(_build(tmp_path / "b"))


def test_it_writes_what_a_deploy_needs(tmp_path: Path) -> None:
    root = _build(tmp_path / "t")
    os_release = (root / "usr/lib/os-release").read_text()
    assert 'NAME="Fedora Linux"' in os_release
    assert "VERSION_ID=41\n" in os_release
    assert "VARIANT_ID=kinoite\n" in os_release
    assert "OSTREE_VERSION='41.20261125.0'" in os_release
    assert (root / "usr/lib/modules" / KERNEL_VERSION / "vmlinuz").stat().st_size > 0
    assert (root / "usr/lib/modules" / KERNEL_VERSION / "initramfs.img").is_file()
    assert (root / "usr/etc").is_dir()
    assert not (root / "etc").exists()
    assert json.loads((root / "usr/share/rpm-ostree/treefile.json").read_text()) == TREEFILE
    assert (root / "usr/share/kinoite-portal/packages/shadow-utils").read_text() == (
        "shadow-utils-2:4.15.1-12.fc41.x86_64\n"
    )


def test_it_records_postprocess_scripts_without_running_them(tmp_path: Path) -> None:
    root = _build(tmp_path / "t")
    recorded = json.loads((root / "usr/share/kinoite-portal/postprocess-not-run.json").read_text())
    assert recorded == {"postprocess": TREEFILE["postprocess"]}


def test_the_kernel_bytes_follow_the_kernel_version(tmp_path: Path) -> None:
    a = _build(tmp_path / "a") / "usr/lib/modules" / KERNEL_VERSION / "vmlinuz"
    b = _build(tmp_path / "b", kernel_version="6.12.1-200.fc41.x86_64") / "usr/lib/modules"
    assert a.read_bytes() != (b / "6.12.1-200.fc41.x86_64" / "vmlinuz").read_bytes()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kernel_version": "../../etc"}, "kernel version"),
        ({"packages": [Package("../evil", 0, "1", "1", "x86_64")]}, "package name"),
        ({"version": "41'; rm -rf /"}, "quoting characters"),
    ],
)
def test_it_refuses_unsafe_names(tmp_path: Path, overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _build(tmp_path / "t", **overrides)


def test_a_built_tree_commits_as_a_deployable_commit_without_a_sysroot(
    make_repo: Callable[..., Repo], tmp_path: Path
) -> None:
    """Check what `ostree admin deploy` requires (lab notes section 7.1) in the commit itself, no sysroot needed."""
    repo = make_repo()
    packages = sample_packages()
    checksum = repo.commit(
        branch="fedora/x86_64/kinoite/dev",
        tree_dir=_build(tmp_path / "t"),
        subject="Kinoite 41.20261125.0",
        metadata={
            "version": "41.20261125.0",
            "rpmostree.inputhash": compute_input_hash(TREEFILE, packages),
            "rpmostree.rpmdb.pkglist": packages,
        },
    )
    paths = set(repo.ls_paths(checksum))
    assert f"/usr/lib/modules/{KERNEL_VERSION}/vmlinuz" in paths
    assert "/usr/lib/os-release" in paths
    assert "/usr/etc" in paths
    assert "/etc" not in paths
    again = repo.commit(
        branch="fedora/x86_64/kinoite/again", tree_dir=_build(tmp_path / "t2"), subject="again", metadata={}
    )
    assert repo.read_commit(again).content_checksum == repo.read_commit(checksum).content_checksum


def test_the_input_hash_ignores_order_but_not_content() -> None:
    pkgs = sample_packages()
    base = compute_input_hash(TREEFILE, pkgs)
    assert compute_input_hash(dict(reversed(list(TREEFILE.items()))), list(reversed(pkgs))) == base
    assert compute_input_hash({**TREEFILE, "releasever": 42}, pkgs) != base
    bumped = [*pkgs[:-1], Package("shadow-utils", 2, "4.15.1", "13.fc41", "x86_64")]
    assert compute_input_hash(TREEFILE, bumped) != base
    assert len(base) == 64


def test_next_version_counts_up_within_a_day() -> None:
    day = date(2026, 11, 25)
    assert next_version(41, day, []) == "41.20261125.0"
    assert next_version("41", day, ["41.20261125.0"]) == "41.20261125.1"
    assert next_version(41, day, ["41.20261125.0", "41.20261125.3", "41.20261124.9", "40.20261125.7"]) == (
        "41.20261125.4"
    )
    assert next_version(41, date(2026, 11, 26), ["41.20261125.3", "garbage"]) == "41.20261126.0"


def test_parse_version_splits_the_parts() -> None:
    assert parse_version("41.20261125.10") == VersionParts("41", date(2026, 11, 25), 10)
    for bad in ("41.2026112.0", "41.20261399.0", "41.20261125", "x"):
        with pytest.raises(ValueError, match="version"):
            parse_version(bad)
