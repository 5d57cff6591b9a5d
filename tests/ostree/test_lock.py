"""The repo lock is libostree's own lock; the portal lock excludes across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kinoite_portal.ostree import CommandError, LockTimeout, Repo, RepoMissing, portal_lock, repo_lock
from kinoite_portal.ostree.lock import lock_holder_type

HOLDER = textwrap.dedent(
    """
    import sys, time
    from kinoite_portal.ostree.lock import portal_lock, repo_lock
    kind, target = sys.argv[1], sys.argv[2]
    if kind == "portal":
        ctx = portal_lock(target, "prod", timeout=5)
    else:
        ctx = repo_lock(target, exclusive=(kind == "exclusive"), timeout=5)
    with ctx:
        print("held", flush=True)
        time.sleep(60)
    """
)


@contextmanager
def held_in_another_process(kind: str, target: Path) -> Iterator[subprocess.Popen[str]]:
    """Run a separate Python process that takes the lock and holds it until killed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, kind, str(target)], stdout=subprocess.PIPE, text=True, env=None
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_shared_repo_lock_makes_ostree_prune_wait_then_fail(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    repo.set_config("core.lock-timeout-secs", "1")
    with held_in_another_process("shared", repo.path):
        assert lock_holder_type(repo.path / ".lock") == "shared"
        started = time.monotonic()
        with pytest.raises(CommandError, match="Locking repo exclusive failed"):
            repo.prune(dry_run=True)
        assert time.monotonic() - started >= 0.9
    assert repo.prune(dry_run=True).deleted_objects == 0


def test_an_exclusive_repo_lock_blocks_a_shared_one(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    with (
        held_in_another_process("exclusive", repo.path),
        pytest.raises(LockTimeout, match="shared ostree repo lock"),
        repo_lock(repo.path, timeout=0.3),
    ):
        pass
    with repo_lock(repo.path, timeout=1):
        pass


def test_shared_repo_locks_coexist(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    with repo_lock(repo.path), repo_lock(repo.path, timeout=0.5):
        assert lock_holder_type(repo.path / ".lock") == "shared"
    assert lock_holder_type(repo.path / ".lock") is None


def test_repo_lock_refuses_a_path_that_is_not_a_repo(tmp_path: Path) -> None:
    with pytest.raises(RepoMissing), repo_lock(tmp_path):
        pass
    assert not (tmp_path / ".lock").exists()


def test_two_portal_lock_holders_in_two_processes_exclude_each_other(tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    with held_in_another_process("portal", locks) as holder:
        assert (locks / "prod.lock").read_text().strip() == str(holder.pid)
        with pytest.raises(LockTimeout, match="portal lock"), portal_lock(locks, "prod", timeout=0.3):
            pass
        with portal_lock(locks, "dev", timeout=0.3):
            pass
        holder.kill()
        holder.wait()
        # SIGKILL releases it: the kernel drops OFD locks with the last descriptor.
        with portal_lock(locks, "prod", timeout=2):
            pass


def test_portal_lock_excludes_within_one_process_too(tmp_path: Path) -> None:
    with portal_lock(tmp_path, "prod"), pytest.raises(LockTimeout), portal_lock(tmp_path, "prod", timeout=0.2):
        pass


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "-x"])
def test_portal_lock_refuses_unsafe_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="lock name"), portal_lock(tmp_path, name):
        pass
