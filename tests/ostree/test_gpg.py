from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kinoite_portal.ostree import gpg
from kinoite_portal.ostree.runner import run


def test_it_generates_a_key_that_can_sign(gpg_key: tuple[Path, str]) -> None:
    home, fingerprint = gpg_key
    assert len(fingerprint) == 40
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert gpg.can_sign(home, fingerprint) is True


def test_it_exports_the_public_key(gpg_key: tuple[Path, str]) -> None:
    home, fingerprint = gpg_key
    armored = gpg.export_public_key(home, fingerprint)
    assert armored.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")


def test_a_key_that_is_not_there_cannot_sign(gpg_key: tuple[Path, str], tmp_path: Path) -> None:
    home, _ = gpg_key
    assert gpg.can_sign(home, "0" * 40) is False
    assert gpg.can_sign(tmp_path / "no-home", "0" * 40) is False


def test_it_imports_a_secret_key_into_another_homedir(gpg_key: tuple[Path, str], tmp_path: Path) -> None:
    home, fingerprint = gpg_key
    result = run(["gpg", f"--homedir={home}", "--batch", "--armor", "--export-secret-keys", fingerprint], timeout=30)
    other = tmp_path / "other"
    try:
        assert gpg.import_secret_key(other, result.stdout) == fingerprint
        assert stat.S_IMODE(other.stat().st_mode) == 0o700
        assert gpg.can_sign(other, fingerprint) is True
    finally:
        gpg.kill_agent(other)


@pytest.mark.parametrize(
    ("name", "email", "message"),
    [("a\nKey-Type: DSA", "x@y.z", "one line"), ("ok", "not an email", "not an email"), ("", "x@y.z", "one line")],
)
def test_it_refuses_key_parameters_that_would_change_the_batch_file(
    tmp_path: Path, name: str, email: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        gpg.generate_key(tmp_path / "home", name, email)
