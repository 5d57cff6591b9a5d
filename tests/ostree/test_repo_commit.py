from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kinoite_portal.ostree import InvalidRef, ListLog, Package, RawVariant, Repo, run
from tests.ostree.conftest import REF_DEV, REF_STABLE
from tests.ostree.helpers import KERNEL_VERSION, evolve_tree, sample_packages


def test_it_reads_back_epoch_2_exactly(dev_commit: tuple[Repo, str]) -> None:
    repo, checksum = dev_commit
    info = repo.read_commit(checksum)
    assert info.packages == tuple(sample_packages())
    shadow = next(p for p in info.packages if p.name == "shadow-utils")
    assert shadow.epoch == 2
    assert shadow.evr == "2:4.15.1-12.fc41"


def test_it_reads_back_version_inputhash_and_subject(dev_commit: tuple[Repo, str]) -> None:
    repo, checksum = dev_commit
    info = repo.read_commit(checksum)
    assert info.checksum == checksum
    assert info.version == "41.20261125.0"
    assert info.input_hash == "3a1f" * 16
    assert info.subject == "Kinoite 41.20261125.0"
    assert info.body == "first line\n\nthird line"
    assert info.metadata["ostree.bootable"] is True
    assert info.parent is None
    assert info.signatures == 0
    assert abs(info.timestamp - datetime.now(UTC)) < timedelta(minutes=5)


def test_it_binds_the_branch_and_every_bind_ref(dev_commit: tuple[Repo, str]) -> None:
    repo, checksum = dev_commit
    assert repo.read_commit(checksum).ref_binding == (REF_DEV, REF_STABLE)


def test_it_omits_the_binding_with_no_bindings(make_repo: Callable[..., Repo], tree: Path) -> None:
    repo = make_repo()
    checksum = repo.commit(branch="os/x", tree_dir=tree, subject="s", metadata={}, no_bindings=True)
    assert repo.read_commit(checksum).ref_binding is None


def test_it_reads_a_ref_as_well_as_a_checksum(dev_commit: tuple[Repo, str]) -> None:
    repo, checksum = dev_commit
    assert repo.read_commit(REF_DEV).checksum == checksum
    assert repo.resolve(REF_DEV) == checksum
    assert repo.resolve("fedora/x86_64/kinoite/nope") is None


def test_it_stores_the_pkglist_as_a_stsss_array_that_ostree_prints_as_rpm_ostree_does(
    dev_commit: tuple[Repo, str],
) -> None:
    repo, checksum = dev_commit
    raw = repo.metadata_keys(checksum)["rpmostree.rpmdb.pkglist"]
    assert raw.type_string == "a(stsss)"
    shown = run(
        ["ostree", "show", f"--repo={repo.path}", "-B", "--print-metadata-key=rpmostree.rpmdb.pkglist", checksum]
    )
    assert shown.stdout.strip().startswith("[('bash', uint64 0, '5.2.32', '1.fc41', 'x86_64'), ('kernel', 0, ")
    assert shown.stdout.strip() == raw.text()


def test_it_writes_and_reads_a_3000_package_list_that_no_command_line_could_carry(
    make_repo: Callable[..., Repo], tree: Path
) -> None:
    log = ListLog()
    repo = make_repo().using(log=log)
    huge = [Package(f"package-with-a-long-name-{i}", i % 3, "1.0.0", "1.fc41", "x86_64") for i in range(3000)]
    checksum = repo.commit(branch="os/big", tree_dir=tree, subject="s", metadata={"rpmostree.rpmdb.pkglist": huge})
    raw = repo.metadata_keys(checksum)["rpmostree.rpmdb.pkglist"]
    # Over the 128 KiB Linux allows for one argument, so `ostree commit --add-metadata` could never have written it.
    assert len(raw.data) > 131072
    assert repo.read_commit(checksum).packages == tuple(huge)
    # The command line only wrote the tree; the metadata went in through libostree.
    assert not any("pkglist" in command for command in log.commands)


def test_it_writes_an_empty_pkglist_with_its_type(make_repo: Callable[..., Repo], tree: Path) -> None:
    repo = make_repo()
    checksum = repo.commit(branch="os/x", tree_dir=tree, subject="s", metadata={"rpmostree.rpmdb.pkglist": []})
    assert repo.metadata_keys(checksum)["rpmostree.rpmdb.pkglist"] == RawVariant("a(stsss)", b"")
    assert repo.read_commit(checksum).packages == ()


def test_it_leaves_no_unnamed_commit_behind_after_writing_a_directory(
    make_repo: Callable[..., Repo], tree: Path
) -> None:
    repo = make_repo()
    checksum = repo.commit(branch="os/x", tree_dir=tree, subject="s")
    commits = sorted(p.parent.name + p.stem for p in (repo.path / "objects").glob("*/*.commit"))
    assert commits == [checksum]
    assert repo.fsck().ok


def test_it_parses_the_log_with_parent_root_and_version(
    dev_commit: tuple[Repo, str], tree: Path, tmp_path: Path
) -> None:
    repo, first = dev_commit
    second = repo.commit(
        branch=REF_DEV,
        tree_dir=evolve_tree(tree, tmp_path / "v2"),
        subject="Kinoite 41.20261126.0",
        metadata={"version": "41.20261126.0"},
    )
    history = repo.log(REF_DEV)
    assert [c.checksum for c in history] == [second, first]
    assert history[0].parent == first
    assert history[1].parent is None
    assert [c.version for c in history] == ["41.20261126.0", "41.20261125.0"]
    assert history[1].subject == "Kinoite 41.20261125.0"
    assert history[1].body == "first line\n\nthird line"
    assert history[0].content_checksum != history[1].content_checksum


def test_it_lists_refs_under_a_prefix_with_full_names(dev_commit: tuple[Repo, str]) -> None:
    repo, checksum = dev_commit
    repo.set_ref("other/ref", checksum)
    assert repo.refs("fedora/x86_64") == {REF_DEV: checksum}
    assert repo.refs() == {REF_DEV: checksum, "other/ref": checksum}
    assert repo.refs("nothing/here") == {}


def test_it_counts_added_removed_and_modified_paths(dev_commit: tuple[Repo, str], tree: Path, tmp_path: Path) -> None:
    repo, first = dev_commit
    second = repo.commit(branch=REF_DEV, tree_dir=evolve_tree(tree, tmp_path / "v2"), subject="v2", metadata={})
    result = repo.diff(first, second)
    assert (result.added, result.removed, result.modified) == (1, 1, 2)
    assert {(e.status, e.path) for e in result.entries} == {
        ("A", "/usr/bin/newtool"),
        ("D", "/usr/bin/tool2"),
        ("M", "/usr/bin/tool1"),
        ("M", "/usr/lib/os-release"),
    }
    assert repo.diff(first, first).identical


def test_it_recommits_a_tree_under_a_new_ref_with_the_same_content(dev_commit: tuple[Repo, str]) -> None:
    repo, source = dev_commit
    copied = repo.metadata_keys(source)
    assert "ostree.ref-binding" not in copied
    new = repo.commit(
        branch=REF_STABLE,
        tree_ref=source,
        subject="Kinoite 41.20261125.0 for stable",
        metadata={**copied, "version": "41.20261125.1"},
    )
    old_info, new_info = repo.read_commit(source), repo.read_commit(new)
    assert new != source
    assert new_info.content_checksum == old_info.content_checksum
    assert new_info.packages == old_info.packages
    assert new_info.ref_binding == (REF_STABLE,)
    assert new_info.version == "41.20261125.1"
    assert repo.diff(source, new).identical


def test_it_copies_metadata_byte_for_byte(make_repo: Callable[..., Repo], tree: Path) -> None:
    repo = make_repo()
    odd = [("it's", 3, "back\\slash", "é ✓", "x86_64")]
    first = repo.commit(branch="os/a", tree_dir=tree, subject="s", metadata={"rpmostree.rpmdb.pkglist": odd})
    copied = repo.metadata_keys(first)
    second = repo.commit(branch="os/b", tree_ref=first, subject="s", metadata=copied)
    assert repo.metadata_keys(second) == copied
    assert repo.read_commit(second).packages == (Package("it's", 3, "back\\slash", "é ✓", "x86_64"),)


def test_it_binds_several_refs_and_keeps_the_branchs_parent(dev_commit: tuple[Repo, str]) -> None:
    repo, source = dev_commit
    rings = ["os/ring/b", "os/ring/a", REF_STABLE]
    new = repo.commit(branch=REF_STABLE, tree_ref=source, subject="s", bind_refs=rings)
    assert repo.read_commit(new).ref_binding == (REF_STABLE, "os/ring/a", "os/ring/b")
    assert repo.resolve(REF_STABLE) == new
    again = repo.commit(branch=REF_STABLE, tree_ref=source, subject="s2")
    assert repo.read_commit(again).parent == new
    assert repo.fsck(verify_bindings=True).ok


def test_it_refuses_a_single_string_as_bind_refs(dev_commit: tuple[Repo, str]) -> None:
    repo, source = dev_commit
    with pytest.raises(ValueError, match="list of refs"):
        repo.commit(branch=REF_STABLE, tree_ref=source, subject="s", bind_refs="os/ring/a")
    assert repo.resolve(REF_STABLE) is None


def test_it_refuses_a_value_gvariant_cannot_hold_and_writes_nothing(
    make_repo: Callable[..., Repo], tree: Path, log: ListLog
) -> None:
    repo = make_repo()
    before = len(log.lines)
    with pytest.raises(ValueError, match="NUL"):
        repo.commit(branch="os/a", tree_dir=tree, subject="s", metadata={"version": "bad\0"})
    assert log.lines[before:] == []
    assert repo.resolve("os/a") is None


def test_it_refuses_metadata_keys_ostree_writes_itself(make_repo: Callable[..., Repo], tree: Path) -> None:
    repo = make_repo()
    with pytest.raises(ValueError, match=r"ostree writes 'ostree\.ref-binding' itself"):
        repo.commit(branch="os/a", tree_dir=tree, subject="s", metadata={"ostree.ref-binding": ["os/other"]})


def test_it_lists_every_path_of_a_commit(dev_commit: tuple[Repo, str]) -> None:
    repo, checksum = dev_commit
    paths = repo.ls_paths(checksum)
    assert f"/usr/lib/modules/{KERNEL_VERSION}/vmlinuz" in paths
    assert "/usr/bin/tool1" in paths
    assert "/" in paths


def test_it_reports_the_repo_mode(make_repo: Callable[..., Repo]) -> None:
    assert make_repo("a").mode() == "archive-z2"
    assert make_repo("b", mode="bare-user").mode() == "bare-user"


def test_init_is_idempotent_and_creates_parents(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "repo"
    first = Repo.init(path)
    (path / "marker").write_text("x")
    assert Repo.init(path) == first
    assert (path / "marker").exists()


def test_it_sets_and_moves_a_ref(dev_commit: tuple[Repo, str], tree: Path, tmp_path: Path) -> None:
    repo, first = dev_commit
    second = repo.commit(branch="os/other", tree_dir=evolve_tree(tree, tmp_path / "v2"), subject="v2", metadata={})
    repo.set_ref(REF_STABLE, first)
    assert repo.resolve(REF_STABLE) == first
    repo.set_ref(REF_STABLE, second)
    assert repo.resolve(REF_STABLE) == second


def test_delete_ref_deletes_only_that_ref(dev_commit: tuple[Repo, str]) -> None:
    repo, checksum = dev_commit
    repo.set_ref("fedora/x86_64/kinoite/beta", checksum)
    # `ostree refs --delete fedora` would delete every ref under the prefix.
    assert repo.delete_ref("fedora") is False
    assert repo.delete_ref("fedora/x86_64/kinoite/beta") is True
    assert repo.delete_ref("fedora/x86_64/kinoite/beta") is False
    assert repo.refs() == {REF_DEV: checksum}


def test_without_packages_it_reads_everything_but_the_package_list(dev_commit: tuple[Repo, str]) -> None:
    repo, checksum = dev_commit
    full = repo.read_commit(checksum)
    header = repo.read_commit(checksum, packages=False)
    assert full.packages == tuple(sample_packages())
    assert header.packages == ()
    assert "rpmostree.rpmdb.pkglist" not in header.metadata
    assert header.metadata == {k: v for k, v in full.metadata.items() if k != "rpmostree.rpmdb.pkglist"}
    assert (header.version, header.content_checksum, header.ref_binding, header.timestamp) == (
        full.version,
        full.content_checksum,
        full.ref_binding,
        full.timestamp,
    )


def test_it_resolves_only_local_refs_not_a_remotes_ref_of_the_same_name(dev_commit: tuple[Repo, str]) -> None:
    repo, checksum = dev_commit
    # A mirrored ref (`origin:NAME`): `rev-parse NAME` would find it, but no local ref NAME exists to promote from.
    run(["ostree", "refs", f"--repo={repo.path}", f"--create=origin:{REF_STABLE}", checksum])
    assert repo.resolve(REF_STABLE) is None
    assert repo.resolve(REF_DEV) == checksum
    with pytest.raises(InvalidRef):
        repo.resolve("../escape")
