from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kinoite_portal.ostree import GvariantError, Package, Repo, Uint64, format_pkglist, format_value, parse_gvariant
from kinoite_portal.ostree.gvariant import (
    Int32,
    format_metadata_value,
    packages_from_value,
    split_commit_metadata,
    split_vardict,
)

# GVariant strings are UTF-8 without NUL; everything else must survive, quotes and backslashes included.
odd_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"),
    max_size=30,
) | st.sampled_from(["it's", 'say "hi"', "back\\slash", "\\'", "\"'", "tab\there", "é ✓ 😀", "\x01\x7f", ""])

packages = st.lists(
    st.builds(Package, odd_text, st.integers(min_value=0, max_value=2**64 - 1), odd_text, odd_text, odd_text),
    max_size=8,
)


@given(packages)
@settings(max_examples=200, deadline=None)
def test_a_formatted_package_list_parses_back_exactly(pkgs: list[Package]) -> None:
    assert packages_from_value(parse_gvariant(format_pkglist(pkgs))) == tuple(pkgs)


@given(st.lists(odd_text, max_size=6))
def test_a_formatted_string_list_parses_back_exactly(values: list[str]) -> None:
    assert parse_gvariant(format_value(values)) == values


def test_it_writes_rpm_ostrees_pkglist_shape() -> None:
    text = format_pkglist([Package("bash", 0, "5.2.32", "1.fc41", "x86_64"), ("shadow-utils", 2, "4.15", "1", "x")])
    assert text == "[('bash', uint64 0, '5.2.32', '1.fc41', 'x86_64'), ('shadow-utils', 2, '4.15', '1', 'x')]"
    assert format_pkglist([]) == "@a(stsss) []"
    assert format_metadata_value("rpmostree.rpmdb.pkglist", []) == "@a(stsss) []"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("it's", "'it\\'s'"),
        ("a\\b", "'a\\\\b'"),
        ("line\nbreak", "'line\\nbreak'"),
        (True, "true"),
        (False, "false"),
        (5, "int64 5"),
        (Uint64(7), "uint64 7"),
        (Int32(-3), "int32 -3"),
        (1.5, "double 1.5"),
        (["a", "b"], "['a', 'b']"),
        ([], "@as []"),
        (("x",), "('x',)"),
        ({}, "@a{sv} {}"),
        ({"k": 1}, "{'k': <int64 1>}"),
        (b"", "@ay []"),
    ],
)
def test_it_formats_values_with_explicit_types(value: object, text: str) -> None:
    assert format_value(value) == text


@pytest.mark.parametrize("bad", [["a", 1], "nul\0", Uint64(-1), 2**63, object(), {1: "x"}])
def test_it_refuses_values_gvariant_cannot_hold(bad: object) -> None:
    with pytest.raises(GvariantError):
        format_value(bad)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("'41.20261125.0'", "41.20261125.0"),
        ("true", True),
        ("['fedora/x86_64/kinoite/dev']", ["fedora/x86_64/kinoite/dev"]),
        (
            "[('bash', uint64 0, '5.2.32', '2.fc41', 'x86_64'), ('shadow-utils', 2, '4.15.1', '12.fc41', 'x86_64')]",
            [("bash", 0, "5.2.32", "2.fc41", "x86_64"), ("shadow-utils", 2, "4.15.1", "12.fc41", "x86_64")],
        ),
        ("@a(stsss) []", []),
        ('["it\'s", \'q"uote\', "both\'\\""]', ["it's", 'q"uote', "both'\""]),
        ("'ctl\\u0001 \\U0001F600'", "ctl\x01 😀"),
        ("<<5>>", 5),
        ("{'k': <1>, 'j': <'x'>}", {"k": 1, "j": "x"}),
        ("@a{sv} {}", {}),
        ("{'k', 'v'}", ("k", "v")),
        ("b'bytes\\001'", b"bytes\x01"),
        ("uint64 18446744073709551615", 2**64 - 1),
        ("int64 -5", -5),
        ("int16 -3", -3),
        ("byte 0x10", 16),
        ("1.5", 1.5),
        ("double 2.0", 2.0),
        ("@ms nothing", None),
        ("@ms 'x'", "x"),
        ("just 'x'", "x"),
        ("objectpath '/a/b'", "/a/b"),
        ("@ay []", b""),
        ("(true, false, uint32 7, 'x')", (True, False, 7, "x")),
        ("()", ()),
        ("('one',)", ("one",)),
    ],
)
def test_it_parses_what_ostree_prints(text: str, value: object) -> None:
    assert parse_gvariant(text) == value


@pytest.mark.parametrize("text", ["", "[", "'open", "[1 2]", "nope", "(1, 2", "{'a': 1", "'x' trailing", "@z 1"])
def test_it_rejects_broken_text(text: str) -> None:
    with pytest.raises(GvariantError):
        parse_gvariant(text)


def test_it_splits_a_vardict_keeping_each_values_text() -> None:
    text = "{'version': <'41.1'>, 'empty': <@a(stsss) []>, 'nested': <<int32 5>>, 'q': <'a>b, c'>}"
    assert split_vardict(text) == {
        "version": "'41.1'",
        "empty": "@a(stsss) []",
        "nested": "<int32 5>",
        "q": "'a>b, c'",
    }
    assert split_vardict("@a{sv} {}") == {}


def test_it_finds_the_metadata_of_a_raw_commit() -> None:
    raw = "commit abc\n({'version': <'1'>}, @ay [], @a(say) [], 's', 'b', uint64 1, [byte 0x01], [byte 0x02])\n"
    assert split_commit_metadata(raw) == {"version": "'1'"}


ODD_VALUES: dict[str, object] = {
    "odd.strings": ["it's", 'q"uote', "back\\slash", "uni é ✓ 😀", "nl\nx\ty", "ctl\x01", "both'\""],
    "odd.pkglist": [Package("we'ird\\name", 2, "1.0~rc1", "1.fc41", "x86_64")],
    "odd.bool": False,
    "odd.uint": Uint64(2**64 - 1),
    "odd.dict": {"k": ["v"]},
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
