"""rpm-ostree cannot run on this Debian host: these tests put a MOCK `rpm-ostree` script first on PATH.

The mock only stands in for the binary's observable contract (argv in; output lines, exit code and the
--write-commitid-to file out). The real compose is covered by the end-to-end test at the bottom, which is skipped
where rpm-ostree is not installed.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from kinoite_portal.ostree import CommandCancelled, CommandError, ListLog, OstreeError
from kinoite_portal.ostree.compose import rpm_ostree_compose_argv, run_rpm_ostree_compose
from tests.ostree.helpers import path_with, write_script

NEW_COMMIT = "ab" * 32


def _install_mock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> Path:
    """Write a MOCK rpm-ostree (not the real tool) that records its argv, then runs ``body``."""
    bindir = tmp_path / "mock-bin"
    argv_file = tmp_path / "mock-argv"
    write_script(
        bindir / "rpm-ostree",
        f"""
        # MOCK rpm-ostree for tests; see the module docstring.
        printf '%s\\n' "$@" > {argv_file}
        for arg in "$@"; do
          case "$arg" in --write-commitid-to=*) COMMITID_FILE="${{arg#--write-commitid-to=}}";; esac
        done
        {body}
        """,
    )
    monkeypatch.setenv("PATH", path_with(bindir))
    return argv_file


def _compose(tmp_path: Path, log: ListLog, **kwargs: object) -> str | None:
    return run_rpm_ostree_compose(
        treefile_path=tmp_path / "kinoite.yaml",
        repo_path=tmp_path / "repo",
        cachedir=tmp_path / "cache",
        commitid_file=tmp_path / "commitid",
        log=log,
        timeout=30,
        **kwargs,  # type: ignore[arg-type]
    )


def test_it_builds_the_compose_argv(tmp_path: Path) -> None:
    argv = rpm_ostree_compose_argv(
        treefile_path=tmp_path / "t.yaml",
        repo_path=tmp_path / "dev",
        cachedir=tmp_path / "cache",
        commitid_file=tmp_path / "id",
        extra=["--add-metadata-string=portal.compose=7"],
    )
    assert argv == [
        "rpm-ostree",
        "compose",
        "tree",
        "--unified-core",
        f"--repo={tmp_path / 'dev'}",
        f"--cachedir={tmp_path / 'cache'}",
        f"--write-commitid-to={tmp_path / 'id'}",
        "--add-metadata-string=portal.compose=7",
        str(tmp_path / "t.yaml"),
    ]
    assert "--unified-core" not in rpm_ostree_compose_argv(
        treefile_path="t", repo_path="r", cachedir="c", commitid_file="i", unified_core=False
    )
    with pytest.raises(ValueError, match="--options"):
        rpm_ostree_compose_argv(treefile_path="t", repo_path="r", cachedir="c", commitid_file="i", extra=["x"])


def test_it_returns_the_commit_id_and_streams_the_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv_file = _install_mock(
        tmp_path,
        monkeypatch,
        f"""
        echo "Downloading metadata..."
        echo "Installing 3 packages" >&2
        printf '{NEW_COMMIT}' > "$COMMITID_FILE"
        echo "Wrote commit: {NEW_COMMIT}"
        """,
    )
    log = ListLog()
    assert _compose(tmp_path, log) == NEW_COMMIT
    assert log.lines[0].startswith("+ rpm-ostree compose tree --unified-core --repo=")
    assert log.lines[1:] == ["Downloading metadata...", "Installing 3 packages", f"Wrote commit: {NEW_COMMIT}"]
    assert argv_file.read_text().splitlines()[:3] == ["compose", "tree", "--unified-core"]
    assert (tmp_path / "cache").is_dir()


def test_it_returns_none_when_nothing_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "commitid").write_text("cd" * 32)  # from an earlier run: must not be reported again
    _install_mock(
        tmp_path,
        monkeypatch,
        'echo "No apparent changes since previous commit; use --force-nocache to override"',
    )
    assert _compose(tmp_path, ListLog()) is None


def test_it_raises_with_the_last_error_line_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_mock(tmp_path, monkeypatch, 'echo "Resolving"\necho "error: Packages not found: nosuchpkg" >&2\nexit 1')
    with pytest.raises(CommandError) as excinfo:
        _compose(tmp_path, ListLog())
    assert str(excinfo.value) == "rpm-ostree compose tree failed (exit 1): error: Packages not found: nosuchpkg"


def test_it_refuses_a_success_without_a_commit_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_mock(tmp_path, monkeypatch, 'echo "done?"')
    with pytest.raises(OstreeError, match="wrote no commit id"):
        _compose(tmp_path, ListLog())


def test_it_cancels_a_running_compose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_mock(tmp_path, monkeypatch, 'echo "Downloading"\nsleep 30\necho "never"')
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    log = ListLog()
    with pytest.raises(CommandCancelled):
        _compose(tmp_path, log, should_cancel=cancel.is_set)
    assert "never" not in log.lines


@pytest.mark.skipif(shutil.which("rpm-ostree") is None, reason="rpm-ostree is not installed")
def test_a_real_compose_writes_a_commit(tmp_path: Path) -> None:  # pragma: no cover - needs a Fedora build host
    from kinoite_portal.ostree import Repo

    repo = Repo.init(tmp_path / "repo", mode="archive")
    treefile = tmp_path / "minimal.json"
    treefile.write_text(
        '{"ref": "test/minimal", "releasever": 41, "repos": ["fedora"], "packages": ["filesystem"],'
        ' "boot-location": "modules", "tmp-is-dir": true}'
    )
    checksum = _compose_real(tmp_path, treefile, repo.path)
    assert checksum is None or repo.has_commit(checksum)


def _compose_real(tmp_path: Path, treefile: Path, repo_path: Path) -> str | None:
    return run_rpm_ostree_compose(
        treefile_path=treefile,
        repo_path=repo_path,
        cachedir=tmp_path / "cache",
        commitid_file=tmp_path / "commitid",
        log=ListLog(),
        timeout=3600,
    )
