"""Which layer's rpm database an image runs with: layer tars made here, with the whiteouts and links images use."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from kinoite_portal.oci.rpmdb import RpmdbUnreadable, rpmdb_extract, rpmdb_list
from tests.oci.rpmdbs import rpmdb


def layer(path: Path, entries: list[tuple[str, str, bytes | str]]) -> Path:
    """Write a gzip layer tar: (kind, name, content) with kind file, symlink (content = target) or link (hard)."""
    with tarfile.open(path, "w:gz") as tar:
        for kind, name, content in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = content if isinstance(content, bytes) else content.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = str(content)
                tar.addfile(info)
    return path


@pytest.fixture
def old_db(tmp_path: Path) -> bytes:
    return rpmdb(tmp_path, [("old", 0, "1", "1")])


@pytest.fixture
def new_db(tmp_path: Path) -> bytes:
    return rpmdb(tmp_path, [("new", 1, "2", "3")])


def test_the_top_most_database_wins_and_rpm_lists_it(tmp_path: Path, old_db: bytes, new_db: bytes) -> None:
    bottom = layer(tmp_path / "l0", [("file", "usr/share/rpm/rpmdb.sqlite", old_db)])
    top = layer(tmp_path / "l1", [("file", "./usr/lib/sysimage/rpm/rpmdb.sqlite", new_db)])
    found = rpmdb_extract([top, bottom], tmp_path / "out")
    assert found == ("usr/lib/sysimage/rpm", 0)
    assert rpmdb_list(tmp_path / "out" / "usr/lib/sysimage/rpm") == (("new", 1, "2", "3", "noarch"),)


def test_a_whiteout_above_hides_the_database_below(tmp_path: Path, old_db: bytes) -> None:
    bottom = layer(tmp_path / "l0", [("file", "usr/lib/sysimage/rpm/rpmdb.sqlite", old_db)])
    top = layer(tmp_path / "l1", [("file", "usr/lib/sysimage/rpm/.wh.rpmdb.sqlite", "")])
    assert rpmdb_extract([top, bottom], tmp_path / "out") is None


def test_an_opaque_parent_above_hides_the_database_below(tmp_path: Path, old_db: bytes) -> None:
    bottom = layer(tmp_path / "l0", [("file", "usr/share/rpm/rpmdb.sqlite", old_db)])
    top = layer(tmp_path / "l1", [("file", "usr/share/.wh..wh..opq", ""), ("file", "usr/share/doc", "x")])
    assert rpmdb_extract([top, bottom], tmp_path / "out") is None


def test_a_folder_replaced_by_a_symlink_hides_the_old_place_but_not_the_new(
    tmp_path: Path, old_db: bytes, new_db: bytes
) -> None:
    bottom = layer(
        tmp_path / "l0",
        [("file", "usr/share/rpm/rpmdb.sqlite", old_db), ("file", "usr/lib/sysimage/rpm/rpmdb.sqlite", new_db)],
    )
    top = layer(tmp_path / "l1", [("symlink", "usr/share/rpm", "../lib/sysimage/rpm")])
    assert rpmdb_extract([top, bottom], tmp_path / "out") == ("usr/lib/sysimage/rpm", 1)


def test_a_database_hard_linked_to_an_earlier_member_is_read(tmp_path: Path, new_db: bytes) -> None:
    only = layer(
        tmp_path / "l0",
        [
            ("file", "sysroot/ostree/repo/objects/ab/cdef.file", new_db),
            ("link", "usr/lib/sysimage/rpm/rpmdb.sqlite", "sysroot/ostree/repo/objects/ab/cdef.file"),
        ],
    )
    assert rpmdb_extract([only], tmp_path / "out") == ("usr/lib/sysimage/rpm", 0)
    assert rpmdb_list(tmp_path / "out" / "usr/lib/sysimage/rpm")[0][0] == "new"


def test_a_layer_that_is_not_a_tar_is_refused_with_its_name(tmp_path: Path) -> None:
    blob = tmp_path / "0123456789abcdef"
    blob.write_bytes(b"\x28\xb5\x2f\xfd not a tar")  # a zstd magic number: not a format tarfile reads
    with pytest.raises(RpmdbUnreadable, match="layer 0123456789ab is not a tar archive"):
        rpmdb_extract([blob], tmp_path / "out")


def test_a_folder_without_a_database_is_refused_rather_than_listed_empty(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(RpmdbUnreadable, match="holds no rpm database"):
        rpmdb_list(tmp_path / "empty")
    assert not (tmp_path / "empty" / "rpmdb.sqlite").exists()  # rpm was not asked: it would have made one
