from __future__ import annotations

import pytest

from kinoite_portal.ostree import InvalidChecksum, InvalidRef, validate_checksum, validate_ref, validate_remote_name
from kinoite_portal.ostree.errors import InvalidRemoteName, OstreeError


@pytest.mark.parametrize(
    "ref", ["fedora/x86_64/kinoite/dev", "os", "a.b_c-d/e", "fedora/41/x86_64/kinoite", "x" * 255, "a/b.c/..d"]
)
def test_it_accepts_ordinary_refs(ref: str) -> None:
    assert validate_ref(ref) == ref


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("", "ref is empty"),
        ("../x", "'..' segment"),
        ("a/./b", "'.' segment"),
        ("--repo=/etc", "starting with '-'"),
        ("a b", "contains ' '"),
        ("a//b", "empty path segment"),
        ("/lead", "empty path segment"),
        ("trail/", "empty path segment"),
        ("remote:ref", "contains ':'"),
        ("x" * 256, "256 characters"),
        ("a\nb", "contains '\\n'"),
        ("é", "contains 'é'"),
    ],
)
def test_it_refuses_unsafe_refs_quoting_the_value(ref: str, message: str) -> None:
    with pytest.raises(InvalidRef) as excinfo:
        validate_ref(ref)
    assert message in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    assert isinstance(excinfo.value, OstreeError)


def test_it_lowercases_an_uppercase_checksum() -> None:
    assert validate_checksum("AB" * 32) == "ab" * 32


@pytest.mark.parametrize(
    ("value", "message"),
    [("abc", "3 characters long"), ("z" * 64, "other than hex"), ("a" * 65, "65 characters"), ("", "0 characters")],
)
def test_it_refuses_bad_checksums(value: str, message: str) -> None:
    with pytest.raises(InvalidChecksum, match=message):
        validate_checksum(value)


@pytest.mark.parametrize("name", ["prod", "dev-1", "my_remote.x"])
def test_it_accepts_remote_names(name: str) -> None:
    assert validate_remote_name(name) == name


@pytest.mark.parametrize("name", ["", "-x", ".x", "a/b", "a b", "a:b"])
def test_it_refuses_bad_remote_names(name: str) -> None:
    with pytest.raises(InvalidRemoteName):
        validate_remote_name(name)
