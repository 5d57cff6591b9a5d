"""Fixtures for the ostree layer: temporary repos, trees and a throwaway GPG key, all on the real binaries."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kinoite_portal.ostree import ListLog, Repo, gpg
from tests.ostree.helpers import sample_packages, small_tree

REF_DEV = "fedora/x86_64/kinoite/dev"
REF_STABLE = "fedora/x86_64/kinoite/stable"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip everything here when ostree is not installed, with one clear reason."""
    if shutil.which("ostree") is None:
        skip = pytest.mark.skip(reason="the ostree binary is not installed (apt-get install ostree)")
        for item in items:
            if "tests/ostree/" in str(item.path):
                item.add_marker(skip)


@pytest.fixture
def log() -> ListLog:
    return ListLog()


@pytest.fixture
def make_repo(tmp_path: Path, log: ListLog) -> Callable[..., Repo]:
    """Return a factory: ``make_repo("dev")`` creates an archive repo under tmp_path sharing the test's log."""

    def factory(name: str = "repo", mode: str = "archive") -> Repo:
        return Repo.init(tmp_path / "repos" / name, mode=mode, log=log, timeout=60)

    return factory


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return small_tree(tmp_path / "trees" / "v1")


@pytest.fixture
def dev_commit(make_repo: Callable[..., Repo], tree: Path) -> tuple[Repo, str]:
    """Return a dev repo with one rpm-ostree-style commit on REF_DEV, and its checksum."""
    repo = make_repo("dev")
    checksum = repo.commit(
        branch=REF_DEV,
        tree_dir=tree,
        subject="Kinoite 41.20261125.0",
        body="first line\n\nthird line",
        metadata={
            "version": "41.20261125.0",
            "rpmostree.inputhash": "3a1f" * 16,
            "rpmostree.rpmdb.pkglist": sample_packages(),
            "ostree.bootable": True,
            "ostree.linux": "6.11.4-301.fc41.x86_64",
        },
        bind_refs=[REF_STABLE],
    )
    return repo, checksum


@pytest.fixture(scope="session")
def gpg_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """Return (homedir, fingerprint) of a throwaway signing key; the gpg-agent is stopped afterwards."""
    # A short path: gpg-agent's socket path must stay under ~100 characters.
    home = tmp_path_factory.mktemp("gpg") / "home"
    fingerprint = gpg.generate_key(home, "Portal Test Signing", "signing@portal.invalid")
    yield home, fingerprint
    gpg.kill_agent(home)
