from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from kinoite_portal.ostree import Repo, repo_lock
from tests.ostree.conftest import REF_DEV, REF_STABLE
from tests.ostree.helpers import evolve_tree


def test_it_pulls_by_checksum_and_creates_the_ref_after(
    dev_commit: tuple[Repo, str], make_repo: Callable[..., Repo]
) -> None:
    dev, checksum = dev_commit
    prod = make_repo("prod")
    with repo_lock(prod.path):
        result = prod.pull_local(dev, checksum)
        assert prod.refs() == {}
        prod.set_ref(REF_STABLE, checksum)
    assert result.metadata_objects > 0
    assert result.content_objects > 0
    assert "objects imported" in result.summary_line
    assert prod.refs() == {REF_STABLE: checksum}
    assert prod.read_commit(REF_STABLE).content_checksum == dev.read_commit(checksum).content_checksum
    fsck = prod.fsck()
    assert fsck.ok, fsck.output
    assert "no errors found" in fsck.output
    # The commit was bound to stable at compose time, so clients pulling stable accept it.
    assert prod.fsck(verify_bindings=True).ok


def test_it_pulls_the_commit_not_where_the_source_ref_points_now(
    dev_commit: tuple[Repo, str], make_repo: Callable[..., Repo], tree: Path, tmp_path: Path
) -> None:
    dev, approved = dev_commit
    dev.commit(branch=REF_DEV, tree_dir=evolve_tree(tree, tmp_path / "v2"), subject="newer", metadata={})
    dev.update_summary()
    prod = make_repo("prod")
    prod.pull_local(dev, approved)
    prod.set_ref(REF_STABLE, approved)
    assert prod.resolve(REF_STABLE) == approved
    assert prod.log_with_truncation(REF_STABLE) == (prod.log(REF_STABLE), False)


def test_pull_and_set_ref_publishes_under_the_lock(
    dev_commit: tuple[Repo, str], make_repo: Callable[..., Repo]
) -> None:
    dev, checksum = dev_commit
    prod = make_repo("prod")
    result = prod.pull_and_set_ref(dev, checksum, REF_STABLE)
    assert result.content_objects > 0
    assert prod.refs() == {REF_STABLE: checksum}
    # Idempotent: a re-run (task retried after a crash) changes nothing.
    assert prod.pull_and_set_ref(dev, checksum, REF_STABLE).content_objects == 0
    assert prod.refs() == {REF_STABLE: checksum}


def test_a_repeated_pull_is_a_no_op(dev_commit: tuple[Repo, str], make_repo: Callable[..., Repo]) -> None:
    dev, checksum = dev_commit
    prod = make_repo("prod")
    prod.pull_local(dev, checksum)
    again = prod.pull_local(dev, checksum)
    assert again.content_objects == 0


def test_pull_local_hardlinks_objects_on_one_filesystem(
    dev_commit: tuple[Repo, str], make_repo: Callable[..., Repo]
) -> None:
    dev, checksum = dev_commit
    prod = make_repo("prod")
    prod.pull_local(dev, checksum)
    commit_object = Path("objects") / checksum[:2] / f"{checksum[2:]}.commit"
    assert os.stat(prod.path / commit_object).st_ino == os.stat(dev.path / commit_object).st_ino


def test_log_marks_history_that_was_not_pulled(
    dev_commit: tuple[Repo, str], make_repo: Callable[..., Repo], tree: Path, tmp_path: Path
) -> None:
    dev, _first = dev_commit
    second = dev.commit(branch=REF_DEV, tree_dir=evolve_tree(tree, tmp_path / "v2"), subject="v2", metadata={})
    prod = make_repo("prod")
    prod.pull_local(dev, second)
    history, truncated = prod.log_with_truncation(second)
    assert [c.checksum for c in history] == [second]
    assert truncated is True
