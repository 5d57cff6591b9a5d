"""Bad input gives one clear error and runs nothing (the ListLog records every command line)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kinoite_portal.ostree import (
    CommitNotFound,
    InvalidChecksum,
    InvalidRef,
    ListLog,
    Repo,
    RepoMissing,
    ToolMissing,
)
from kinoite_portal.ostree.runner import resolve_tool
from tests.ostree.conftest import REF_DEV

UNSAFE_REFS = ["../x", "--repo=/etc", "a b", "a//b", "", "/lead", "trail/", "a/./b", "a:b", "a/-b", "x" * 256]
BAD_CHECKSUMS = ["abc123", "g" * 64, "a" * 63, "a" * 65, "", " " + "a" * 63, "a" * 62 + "\n"]


@pytest.fixture
def quiet_repo(dev_commit: tuple[Repo, str]) -> tuple[Repo, str, ListLog]:
    """Return the dev repo with a fresh log, so any command a test runs shows up."""
    repo, checksum = dev_commit
    fresh = ListLog()
    return repo.using(log=fresh), checksum, fresh


@pytest.mark.parametrize("ref", UNSAFE_REFS)
def test_it_refuses_an_unsafe_ref_and_runs_nothing(quiet_repo: tuple[Repo, str, ListLog], ref: str) -> None:
    repo, checksum, log = quiet_repo
    for call in (
        lambda: repo.set_ref(ref, checksum),
        lambda: repo.read_commit(ref),
        lambda: repo.commit(branch=ref, tree_ref=checksum, subject="s", metadata={}),
        lambda: repo.commit(branch="os/ok", tree_ref=checksum, subject="s", metadata={}, bind_refs=[ref]),
        lambda: repo.refs(ref),
        lambda: repo.delete_ref(ref),
        lambda: repo.log(ref),
    ):
        with pytest.raises(InvalidRef) as excinfo:
            call()
        assert str(excinfo.value).count("\n") == 0
    assert log.commands == []


@pytest.mark.parametrize("value", BAD_CHECKSUMS)
def test_it_refuses_a_bad_checksum_and_runs_nothing(quiet_repo: tuple[Repo, str, ListLog], value: str) -> None:
    repo, _checksum, log = quiet_repo
    for call in (
        lambda: repo.set_ref("os/x", value),
        lambda: repo.has_commit(value),
        lambda: repo.commit(branch="os/x", tree_ref=value, subject="s", metadata={}),
        lambda: repo.gpg_sign(value, "A" * 40, "/nonexistent"),
        lambda: repo.generate_static_delta(None, value),
    ):
        with pytest.raises(InvalidChecksum, match="checksum"):
            call()
    assert log.commands == []


def test_pull_local_refuses_a_ref_name(quiet_repo: tuple[Repo, str, ListLog], make_repo: Callable[..., Repo]) -> None:
    source, _checksum, _ = quiet_repo
    prod_log = ListLog()
    prod = make_repo("prod").using(log=prod_log)
    with pytest.raises(InvalidChecksum, match="promote by checksum, never by ref"):
        prod.pull_local(source, REF_DEV)
    assert prod_log.commands == []


def test_it_raises_tool_missing_when_ostree_is_not_on_path(
    quiet_repo: tuple[Repo, str, ListLog], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, checksum, log = quiet_repo
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(ToolMissing, match="'ostree' was not found on PATH; install the 'ostree' package"):
        repo.diff(checksum, checksum)
    assert log.commands == []


def test_a_missing_tool_names_the_package_that_brings_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    for tool, package in (("rpm", "rpm"), ("skopeo", "skopeo"), ("gpgconf", "gnupg"), ("ostree", "ostree")):
        with pytest.raises(ToolMissing, match=f"'{tool}' was not found on PATH; install the '{package}' package"):
            resolve_tool(tool)


def test_it_raises_repo_missing_before_running_anything(tmp_path: Path) -> None:
    log = ListLog()
    repo = Repo(tmp_path / "nowhere", log=log)
    for call in (
        lambda: repo.refs(),
        lambda: repo.read_commit(REF_DEV),
        lambda: repo.commit(branch="os/x", tree_dir=tmp_path, subject="s", metadata={}),
        lambda: repo.update_summary(),
        lambda: repo.fsck(),
    ):
        with pytest.raises(RepoMissing, match="does not exist"):
            call()
    (tmp_path / "not-a-repo").mkdir()
    with pytest.raises(RepoMissing, match="is not an ostree repo"):
        Repo(tmp_path / "not-a-repo", log=log).refs()
    assert log.commands == []


def test_it_raises_commit_not_found_for_a_checksum_not_in_the_repo(quiet_repo: tuple[Repo, str, ListLog]) -> None:
    repo, checksum, _log = quiet_repo
    missing = "0" * 64
    with pytest.raises(CommitNotFound, match=missing):
        repo.read_commit(missing)
    with pytest.raises(CommitNotFound):
        repo.set_ref("os/x", missing)
    with pytest.raises(CommitNotFound):
        repo.commit(branch="os/x", tree_ref=missing, subject="s", metadata={})
    assert repo.has_commit(missing) is False
    assert repo.has_commit(checksum.upper()) is True
    assert repo.resolve(missing) is None
    assert repo.refs() == {REF_DEV: checksum}


def test_it_raises_commit_not_found_for_an_unknown_ref(quiet_repo: tuple[Repo, str, ListLog]) -> None:
    repo, _checksum, _ = quiet_repo
    with pytest.raises(CommitNotFound):
        repo.read_commit("fedora/x86_64/kinoite/nope")
    with pytest.raises(CommitNotFound):
        repo.log("fedora/x86_64/kinoite/nope")


def test_pull_local_refuses_a_commit_the_source_does_not_have(
    quiet_repo: tuple[Repo, str, ListLog], make_repo: Callable[..., Repo]
) -> None:
    source, _checksum, _ = quiet_repo
    prod_log = ListLog()
    prod = make_repo("prod").using(log=prod_log)
    with pytest.raises(CommitNotFound, match="source repo"):
        prod.pull_local(source, "1" * 64)
    assert prod_log.commands == []


def test_commit_needs_exactly_one_tree(quiet_repo: tuple[Repo, str, ListLog], tmp_path: Path) -> None:
    repo, checksum, log = quiet_repo
    with pytest.raises(ValueError, match="exactly one"):
        repo.commit(branch="os/x", subject="s", metadata={})
    with pytest.raises(ValueError, match="exactly one"):
        repo.commit(branch="os/x", tree_dir=tmp_path, tree_ref=checksum, subject="s", metadata={})
    assert log.commands == []


def test_prune_refuses_to_run_without_refs_only(quiet_repo: tuple[Repo, str, ListLog]) -> None:
    repo, _checksum, log = quiet_repo
    with pytest.raises(ValueError, match="--refs-only"):
        repo.prune(depth=0, refs_only=False)
    assert log.commands == []
