from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kinoite_portal.ostree import OstreeError, Repo
from tests.ostree.conftest import REF_DEV
from tests.ostree.helpers import evolve_tree


def test_it_writes_a_signed_summary(dev_commit: tuple[Repo, str], gpg_key: tuple[Path, str]) -> None:
    repo, _ = dev_commit
    home, fingerprint = gpg_key
    repo.update_summary(gpg_key_id=fingerprint, gpg_homedir=home)
    assert (repo.path / "summary").is_file()
    assert (repo.path / "summary.sig").stat().st_size > 0


def test_it_will_not_drop_the_summary_signature_by_accident(
    dev_commit: tuple[Repo, str], gpg_key: tuple[Path, str]
) -> None:
    repo, _ = dev_commit
    home, fingerprint = gpg_key
    repo.update_summary(gpg_key_id=fingerprint, gpg_homedir=home)
    with pytest.raises(OstreeError, match=r"would delete summary\.sig"):
        repo.update_summary()
    assert (repo.path / "summary.sig").exists()


def test_it_never_rewrites_the_summary_twice_in_one_second(dev_commit: tuple[Repo, str]) -> None:
    repo, _ = dev_commit
    repo.update_summary()
    first = int((repo.path / "summary").stat().st_mtime)
    repo.update_summary()
    second = int((repo.path / "summary").stat().st_mtime)
    assert second > first
    assert int(time.time()) >= second


def test_gpg_sign_twice_leaves_one_signature(dev_commit: tuple[Repo, str], gpg_key: tuple[Path, str]) -> None:
    repo, checksum = dev_commit
    home, fingerprint = gpg_key
    assert repo.gpg_sign(checksum, fingerprint, home) is True
    assert repo.gpg_sign(checksum, fingerprint, home) is False
    assert repo.signature_key_ids(checksum) == [fingerprint[-16:]]
    assert repo.read_commit(checksum).signatures == 1


def test_it_generates_and_lists_static_deltas(
    dev_commit: tuple[Repo, str], tree: Path, tmp_path: Path, gpg_key: tuple[Path, str]
) -> None:
    repo, first = dev_commit
    second = repo.commit(branch=REF_DEV, tree_dir=evolve_tree(tree, tmp_path / "v2"), subject="v2", metadata={})
    delta = repo.generate_static_delta(first, second)
    scratch = repo.generate_static_delta(None, second)
    assert delta.name == f"{first}-{second}"
    assert (delta.from_checksum, delta.to_checksum) == (first, second)
    assert scratch.from_checksum is None
    assert sorted(repo.static_deltas()) == sorted([delta.name, scratch.name])

    superblocks = list((repo.path / "deltas").rglob("superblock"))
    before = {p: p.stat().st_mtime_ns for p in superblocks}
    repo.generate_static_delta(first, second)
    assert {p: p.stat().st_mtime_ns for p in superblocks} == before

    # After signing, the delta must be regenerated (it embeds its target's signatures): force does that.
    home, fingerprint = gpg_key
    repo.gpg_sign(second, fingerprint, home)
    repo.generate_static_delta(first, second, force=True)
    assert {p: p.stat().st_mtime_ns for p in superblocks} != before
    repo.update_summary(gpg_key_id=fingerprint, gpg_homedir=home)
    assert list((repo.path / "delta-indexes").rglob("*.index"))


def test_it_has_no_static_deltas_at_first(make_repo: Callable[..., Repo]) -> None:
    assert make_repo().static_deltas() == []


def test_prune_refs_only_cuts_history_to_depth(
    dev_commit: tuple[Repo, str], tree: Path, tmp_path: Path, make_repo: Callable[..., Repo]
) -> None:
    repo, first = dev_commit
    second = repo.commit(branch=REF_DEV, tree_dir=evolve_tree(tree, tmp_path / "v2"), subject="v2", metadata={})
    orphan = repo.commit(branch="tmp/orphan", tree_ref=first, subject="orphan", metadata={})
    repo.delete_ref("tmp/orphan")

    dry = repo.prune(dry_run=True)
    assert dry.deleted_objects >= 1
    assert repo.has_commit(orphan)

    kept = repo.prune()
    assert kept.deleted_objects >= 1
    assert not repo.has_commit(orphan)
    assert repo.has_commit(first)

    cut = repo.prune(depth=0)
    assert cut.deleted_objects >= 1
    assert not repo.has_commit(first)
    assert [c.checksum for c in repo.log(REF_DEV)] == [second]
    assert repo.log_with_truncation(REF_DEV)[1] is True
    assert repo.fsck().ok


def test_fsck_reports_a_dangling_ref_without_raising(dev_commit: tuple[Repo, str]) -> None:
    repo, _ = dev_commit
    # Written by hand: set_ref refuses to create a ref to a commit that is not there.
    dangling = repo.path / "refs/heads/broken"
    dangling.write_text("6" * 64 + "\n")
    result = repo.fsck()
    assert result.ok is False
    assert "broken" in result.output
    os.unlink(dangling)
