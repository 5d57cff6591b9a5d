"""Python values <-> GLib.Variant: the typing rules are ours, the (de)serialising is GLib's, checked against GLib."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kinoite_portal.ostree import (
    GvariantError,
    Int32,
    Package,
    RawVariant,
    Repo,
    Uint32,
    Uint64,
    format_value,
    from_variant,
    metadata_variant,
    to_variant,
)
from kinoite_portal.ostree._gi import glib
from kinoite_portal.ostree.gvariant import packages_from_value, raw_variant, type_of

GLib = glib()

# GVariant strings are UTF-8 without NUL; everything else must survive, quotes and backslashes included.
odd_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"),
    max_size=30,
) | st.sampled_from(["it's", 'say "hi"', "back\\slash", "\\'", "\"'", "tab\there", "é ✓ 😀", "\x01\x7f", ""])

packages = st.lists(
    st.builds(Package, odd_text, st.integers(min_value=0, max_value=2**64 - 1), odd_text, odd_text, odd_text),
    max_size=8,
)

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=0, max_value=2**64 - 1).map(Uint64),
    st.integers(min_value=-(2**31), max_value=2**31 - 1).map(Int32),
    st.integers(min_value=0, max_value=2**32 - 1).map(Uint32),
    st.floats(allow_nan=False),
    odd_text,
    st.binary(max_size=20),
)


def _values(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(
        st.lists(children, max_size=4).filter(lambda items: len({type_of(i) for i in items}) <= 1),
        st.tuples(children, children),
        st.dictionaries(odd_text, children, max_size=4),
    )


values = st.recursive(scalars, _values, max_leaves=12)


def _plain(value: object) -> object:
    """Return ``value`` as from_variant gives it back: ints lose their width class, an empty list stays a list."""
    if isinstance(value, bool | float | str | bytes):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    raise AssertionError(value)


def _has_subnormal(value: object) -> bool:
    if isinstance(value, float):
        return value != 0.0 and abs(value) < sys.float_info.min
    if isinstance(value, list | tuple):
        return any(_has_subnormal(v) for v in value)
    if isinstance(value, dict):
        return any(_has_subnormal(k) or _has_subnormal(v) for k, v in value.items())
    return False


@given(values)
@example(1.1125369292536007e-308)  # subnormal: round-trips in binary, GLib's text parser refuses it
@settings(max_examples=300, deadline=None)
def test_every_value_round_trips_through_glib_with_the_type_we_chose(value: object) -> None:
    variant = to_variant(value)
    assert variant.get_type_string() == type_of(value)
    assert from_variant(variant) == _plain(value)
    # GLib's own text parser reads what GLib's printer wrote back to the same bytes; its strtod refuses subnormal
    # doubles ("number too big for any type"), a limit of GLib's text format that the binary path above does not share.
    if not _has_subnormal(value):
        reparsed = GLib.Variant.parse(None, variant.print_(True), None, None)
        assert reparsed.get_data_as_bytes().get_data() == variant.get_data_as_bytes().get_data()


@given(values)
@settings(max_examples=200, deadline=None)
def test_raw_variants_keep_the_exact_bytes(value: object) -> None:
    raw = raw_variant(to_variant(value))
    assert raw_variant(to_variant(raw)) == raw
    assert raw.value() == _plain(value)


@given(packages)
@settings(max_examples=200, deadline=None)
def test_a_package_list_is_rpm_ostrees_stsss_array_and_reads_back_exactly(pkgs: list[Package]) -> None:
    variant = metadata_variant("rpmostree.rpmdb.pkglist", pkgs)
    assert variant.get_type_string() == "a(stsss)"
    assert packages_from_value(from_variant(variant)) == tuple(pkgs)


def test_an_empty_package_list_keeps_its_type() -> None:
    assert metadata_variant("rpmostree.rpmdb.pkglist", []).get_type_string() == "a(stsss)"
    assert to_variant([]).get_type_string() == "as"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("it's", '"it\'s"'),
        (True, "true"),
        (5, "int64 5"),
        (Uint64(7), "uint64 7"),
        (Int32(-3), "-3"),  # int32 is what GLib reads an untyped integer as
        (Uint32(3), "uint32 3"),
        (1.5, "1.5"),
        (["a", "b"], "['a', 'b']"),
        ({}, "@a{sv} {}"),
        ({"k": 1}, "{'k': <int64 1>}"),
        (b"x", "[byte 0x78]"),
    ],
)
def test_it_writes_every_integer_with_its_width(value: object, text: str) -> None:
    assert format_value(value) == text


@pytest.mark.parametrize(
    "bad", [["a", 1], "nul\0", "lone \ud800", Uint64(-1), Int32(2**31), 2**63, object(), {1: "x"}, [1.0, "x"]]
)
def test_it_refuses_values_gvariant_cannot_hold(bad: object) -> None:
    with pytest.raises(GvariantError):
        to_variant(bad)


@pytest.mark.parametrize("bad", [[("bash", -1, "1", "1", "x")], [("bash", 0, "1")], ["bash-1-1.x"]])
def test_it_refuses_a_malformed_package_list(bad: object) -> None:
    with pytest.raises(GvariantError):
        metadata_variant("rpmostree.rpmdb.pkglist", bad)


@pytest.mark.parametrize(("vtype", "data"), [("(", b""), ("s", b"no nul"), ("t", b"\x01")])
def test_it_refuses_raw_bytes_that_are_not_a_value_of_their_type(vtype: str, data: bytes) -> None:
    with pytest.raises(GvariantError):
        to_variant(RawVariant(vtype, data))


ODD_VALUES: dict[str, object] = {
    "odd.strings": ["it's", 'q"uote', "back\\slash", "uni é ✓ 😀", "nl\nx\ty", "ctl\x01", "both'\""],
    "odd.pkglist": [Package("we'ird\\name", 2, "1.0~rc1", "1.fc41", "x86_64")],
    "odd.bool": False,
    "odd.uint": Uint64(2**64 - 1),
    "odd.dict": {"k": ["v"]},
    "odd.bytes": b"\x00\xff",
}


def test_odd_values_survive_a_real_ostree_commit(make_repo: Callable[..., Repo], tree: Path) -> None:
    repo = make_repo()
    checksum = repo.commit(branch="os/odd", tree_dir=tree, subject="odd", metadata=ODD_VALUES)
    info = repo.read_commit(checksum)
    assert info.metadata["odd.strings"] == ODD_VALUES["odd.strings"]
    assert packages_from_value(info.metadata["odd.pkglist"]) == tuple(ODD_VALUES["odd.pkglist"])  # type: ignore[arg-type]
    assert info.metadata["odd.bool"] is False
    assert info.metadata["odd.uint"] == 2**64 - 1
    assert info.metadata["odd.dict"] == {"k": ["v"]}
    assert info.metadata["odd.bytes"] == b"\x00\xff"
