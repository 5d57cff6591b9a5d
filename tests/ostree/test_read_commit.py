"""Reading a commit through libostree: every key as ostree shows it, ostree.sizes left undecoded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kinoite_portal.ostree import RawVariant, Repo, gvariant, run
from kinoite_portal.ostree._gi import glib
from kinoite_portal.ostree.errors import CommitNotFound
from kinoite_portal.ostree.gvariant import raw_variant
from tests.ostree.conftest import REF_DEV, REF_STABLE
from tests.ostree.helpers import sample_packages


def _shown_by_ostree(repo: Repo, checksum: str, key: str) -> RawVariant:
    """Return one metadata value as the ostree command line prints it, parsed back by GLib."""
    text = run(["ostree", "show", f"--repo={repo.path}", "-B", f"--print-metadata-key={key}", checksum]).stdout
    return raw_variant(glib().Variant.parse(None, text.strip(), None, None))


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


def test_it_reads_every_key_as_ostree_itself_shows_it_except_ostree_sizes(sized_commit: tuple[Repo, str]) -> None:
    repo, checksum = sized_commit
    everything = repo.metadata_keys(checksum, include_managed=True)
    assert "ostree.sizes" in everything
    for key, raw in everything.items():
        assert _shown_by_ostree(repo, checksum, key) == raw, key
    info = repo.read_commit(checksum)
    assert "ostree.sizes" not in info.metadata
    assert info.metadata == {k: v.value() for k, v in everything.items() if k != "ostree.sizes"}
    assert info.packages == tuple(sample_packages())
    assert info.ref_binding == (REF_DEV, REF_STABLE)
    assert info.version == "41.20261125.0"
    assert info.subject == "Kinoite 41.20261125.0"
    assert info.body == "first line\n\n  indented: third line"
    assert info.metadata["bench.pair"] == ("s", 5)
    assert info.metadata["bench.nested"] == {"a": "x", "b": 3}


def test_it_reads_a_commit_whose_metadata_has_a_72_character_type(make_repo: Callable[..., Repo], tree: Path) -> None:
    repo = make_repo()
    wide = "(" + ", ".join(f"byte 0x{i:02x}" for i in range(70)) + ")"
    # Written by the ostree command line itself, not by the portal.
    result = run(
        [
            "ostree",
            "commit",
            f"--repo={repo.path}",
            "-b",
            "os/wide",
            f"--tree=dir={tree}",
            "-s",
            "wide",
            f"--add-metadata=bench.wide={wide}",
            "--add-metadata-string=version=1",
        ]
    )
    checksum = result.stdout.strip()
    raw = repo.metadata_keys(checksum)["bench.wide"]
    assert len(raw.type_string) == 72
    info = repo.read_commit(checksum)
    assert info.metadata["bench.wide"] == tuple(range(70))
    assert info.version == "1"


def test_it_reads_a_commit_by_ref_and_its_parent(sized_commit: tuple[Repo, str], tmp_path: Path) -> None:
    repo, first = sized_commit
    second = repo.commit(branch=REF_DEV, tree_dir=_many_files(tmp_path / "two", 3), subject="next", parent=first)
    info = repo.read_commit(REF_DEV)
    assert info.checksum == second
    assert info.parent == first
    # Only the branch binding: ostree.sizes (off by default) is not there to leave out.
    assert info.metadata == {"ostree.ref-binding": [REF_DEV]}


def test_it_leaves_managed_keys_out_of_copyable_metadata(sized_commit: tuple[Repo, str]) -> None:
    repo, checksum = sized_commit
    copied = repo.metadata_keys(checksum)
    assert "ostree.sizes" not in copied
    assert "ostree.ref-binding" not in copied
    assert copied["bench.quote"].value() == 'it\'s "quoted" <here>'
    assert copied["rpmostree.rpmdb.pkglist"].type_string == "a(stsss)"


def test_it_says_not_found_for_an_unknown_commit_and_reads_nothing(sized_commit: tuple[Repo, str]) -> None:
    repo, _ = sized_commit
    with pytest.raises(CommitNotFound):
        repo.read_commit("0" * 64)
