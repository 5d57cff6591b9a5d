"""Reading a commit: the cost does not grow with the tree, and it reads back what the full --raw parse read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kinoite_portal.ostree import Repo, gvariant, run
from kinoite_portal.ostree.errors import CommitNotFound, GvariantError
from tests.ostree.conftest import REF_DEV, REF_STABLE
from tests.ostree.helpers import sample_packages


def _raw_parse(repo: Repo, checksum: str) -> tuple[dict[str, object], str | None, str, str]:
    """Return (metadata, parent, subject, body) as the whole ``show -B --raw`` variant parses as text."""
    result = run(["ostree", "show", f"--repo={repo.path}", "-B", "--raw", checksum])
    variant = next(line for line in result.stdout.splitlines() if line.startswith("("))
    commit = gvariant.parse(variant)
    assert isinstance(commit, tuple)
    assert isinstance(commit[0], dict)
    return commit[0], bytes(commit[1]).hex() or None, commit[3], commit[4]


def _many_files(root: Path, count: int) -> Path:
    for index in range(count):
        path = root / "usr/share/bench" / f"d{index % 10}" / f"f{index:04d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"file {index}\n")
    return root


@pytest.fixture
def sized_commit(make_repo: Callable[..., Repo], tmp_path: Path) -> tuple[Repo, str]:
    """Return a repo with a 600-file commit carrying ostree.sizes and metadata of many GVariant types."""
    repo = make_repo("sized")
    checksum = repo.commit(
        branch=REF_DEV,
        tree_dir=_many_files(tmp_path / "many", 600),
        subject="Kinoite 41.20261125.0",
        body="first line\n\n  indented: third line",
        metadata={
            "version": "41.20261125.0",
            "rpmostree.inputhash": "3a1f" * 16,
            "rpmostree.rpmdb.pkglist": sample_packages(),
            "ostree.bootable": True,
            "rpmostree.initramfs-args": ["--add=ostree", "--no-hostonly"],
            "bench.count": gvariant.Uint64(2),
            "bench.signed": -7,
            "bench.ratio": 0.25,
            "bench.nested": {"a": "x", "b": gvariant.Uint32(3)},
            "bench.pair": ("s", gvariant.Int32(5)),
            "bench.quote": 'it\'s "quoted" <here>',
        },
        bind_refs=[REF_STABLE],
        generate_sizes=True,
    )
    return repo, checksum


def test_it_reads_back_what_the_full_raw_parse_read_except_ostree_sizes(sized_commit: tuple[Repo, str]) -> None:
    repo, checksum = sized_commit
    metadata, parent, subject, body = _raw_parse(repo, checksum)
    info = repo.read_commit(checksum)
    assert "ostree.sizes" in metadata
    assert "ostree.sizes" not in info.metadata
    assert info.metadata == {k: v for k, v in metadata.items() if k != "ostree.sizes"}
    # The header (checksum, content checksum, date) comes from `ostree show` either way; the rest from the object.
    assert (info.parent, info.subject, info.body) == (parent, subject, body)
    assert info.packages == tuple(sample_packages())
    assert info.ref_binding == (REF_DEV, REF_STABLE)
    assert info.version == "41.20261125.0"
    assert info.body == "first line\n\n  indented: third line"


def test_it_reads_a_commit_by_ref_and_its_parent(sized_commit: tuple[Repo, str], tmp_path: Path) -> None:
    repo, first = sized_commit
    second = repo.commit(branch=REF_DEV, tree_dir=_many_files(tmp_path / "two", 3), subject="next", parent=first)
    info = repo.read_commit(REF_DEV)
    assert info.checksum == second
    assert info.parent == first
    # Only the branch binding: ostree.sizes (off by default) is not there to leave out.
    assert info.metadata == {"ostree.ref-binding": [REF_DEV]}


def test_it_keeps_ostree_sizes_text_for_metadata_keys_with_managed_keys(sized_commit: tuple[Repo, str]) -> None:
    repo, checksum = sized_commit
    everything = repo.metadata_keys(checksum, include_managed=True)
    sizes = run(["ostree", "show", f"--repo={repo.path}", "-B", "--print-metadata-key=ostree.sizes", checksum])
    assert everything["ostree.sizes"] == sizes.stdout.strip()
    assert gvariant.parse(everything["bench.quote"]) == 'it\'s "quoted" <here>'
    copied = repo.metadata_keys(checksum)
    assert "ostree.sizes" not in copied
    assert "ostree.ref-binding" not in copied
    assert copied["rpmostree.rpmdb.pkglist"] == gvariant.format_pkglist(sample_packages())


def test_it_says_not_found_for_an_unknown_commit_and_reads_nothing(sized_commit: tuple[Repo, str]) -> None:
    repo, _ = sized_commit
    with pytest.raises(CommitNotFound):
        repo.read_commit("0" * 64)


def test_it_decodes_serialised_values_like_the_text_parser() -> None:
    # Little-endian serialised GVariant, written out by hand from the format specification.
    assert gvariant.decode_binary("s", b"hi\0") == "hi"
    assert gvariant.decode_binary("t", (2).to_bytes(8, "little")) == 2
    assert gvariant.decode_binary("as", b"a\0bc\0\x02\x05") == ["a", "bc"]
    assert gvariant.decode_binary("ay", b"\x01\x02") == b"\x01\x02"
    assert gvariant.decode_binary("mi", b"") is None
    assert gvariant.decode_binary("(si)", b"ab\0\0" + (7).to_bytes(4, "little") + b"\x03") == ("ab", 7)
    assert gvariant.decode_binary("v", b"x\0\0s") == "x"
    with pytest.raises(GvariantError):
        gvariant.decode_binary("t", b"\x01")
