from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from kinoite_portal.ostree import CommandCancelled, CommandError, CommandTimeout, ListLog, ToolMissing, run, stream
from kinoite_portal.ostree.runner import FuncLog
from tests.ostree.helpers import write_script


def _alive(pid: int) -> bool:
    """Return True if ``pid`` runs (a zombie waiting for a reaper that never comes counts as dead)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        if state == "Z":
            return False
        time.sleep(0.05)
    return True


def test_it_keeps_a_semicolon_literal(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    result = run(["echo", f"hello; touch {marker}"])
    assert result.stdout == f"hello; touch {marker}\n"
    assert not marker.exists()


def test_it_refuses_a_string_argv() -> None:
    with pytest.raises(TypeError, match="not a string"):
        run("echo hi")


def test_it_writes_the_command_line_before_running() -> None:
    log = ListLog()
    run(["echo", "two words"], log=log)
    assert log.lines[0] == "+ echo 'two words'"
    assert log.commands == ["echo 'two words'"]


def test_it_raises_one_clear_line_with_the_exit_code_and_stderr_tail(tmp_path: Path) -> None:
    log = ListLog()
    fake = write_script(
        tmp_path / "bin" / "ostree", 'echo "warming up" >&2\necho "error: No such branch x" >&2\nexit 1\n'
    )
    with pytest.raises(CommandError) as excinfo:
        run([str(fake), "pull-local", "--repo=/r", "src", "x"], log=log)
    err = excinfo.value
    assert str(err) == "ostree pull-local failed (exit 1): error: No such branch x"
    assert (err.returncode, err.stdout) == (1, "")
    assert err.argv[1:] == ["pull-local", "--repo=/r", "src", "x"]
    assert "error: No such branch x" in err.stderr
    assert log.lines[-2:] == ["warming up", "error: No such branch x"]


def test_it_returns_the_result_without_raising_when_check_is_false() -> None:
    result = run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
    assert (result.returncode, result.stdout, result.stderr, result.ok) == (3, "out\n", "err\n", False)
    assert result.duration_s >= 0


def test_it_passes_input_and_extra_env() -> None:
    result = run(["sh", "-c", 'cat; echo "$EXTRA"'], input_text="in\n", env={"EXTRA": "yes"})
    assert result.stdout == "in\nyes\n"


def test_it_raises_tool_missing_and_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    log = ListLog()
    with pytest.raises(ToolMissing, match="'ostree' was not found on PATH; install the 'ostree' package"):
        run(["ostree", "--version"], log=log)
    assert log.lines == []


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    with pytest.raises(CommandTimeout, match=r"timed out after 0\.5 s") as excinfo:
        run(["sh", "-c", f"sleep 30 & echo $! > {pidfile}; wait"], timeout=0.5)
    assert time.monotonic() - started < 5
    assert excinfo.value.returncode == -9
    assert not _alive(int(pidfile.read_text()))


def test_stream_writes_lines_as_they_arrive(tmp_path: Path) -> None:
    seen: list[tuple[float, str]] = []
    log = FuncLog(lambda line: seen.append((time.monotonic(), line)))
    started = time.monotonic()
    result = stream(["sh", "-c", "echo one; sleep 0.6; echo two >&2; sleep 0.6; echo three"], log=log, timeout=10)
    lines = [line for _, line in seen]
    assert lines[1:] == ["one", "two", "three"]
    assert result.stdout == "one\ntwo\nthree"
    # "one" reached the log long before the command finished.
    assert seen[1][0] - started < 0.5
    assert seen[3][0] - seen[1][0] > 1.0


def test_stream_cancels_and_kills_the_group(tmp_path: Path) -> None:
    log = ListLog()
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(CommandCancelled, match="was cancelled"):
        stream(
            ["sh", "-c", "echo begin; sleep 30; echo never"],
            log=log,
            timeout=60,
            should_cancel=cancel.is_set,
            kill_grace=1,
        )
    assert time.monotonic() - started < 3
    assert "begin" in log.lines
    assert "never" not in log.lines
    assert log.lines[-1] == "! cancelled"


def test_stream_times_out(tmp_path: Path) -> None:
    with pytest.raises(CommandTimeout):
        stream(["sleep", "30"], timeout=0.4, kill_grace=1)


def test_stream_sigkills_a_command_that_ignores_sigterm(tmp_path: Path) -> None:
    stubborn = write_script(tmp_path / "stubborn", "trap '' TERM\necho ready\nwhile :; do sleep 0.1; done\n")
    started = time.monotonic()
    with pytest.raises(CommandTimeout):
        stream([str(stubborn)], timeout=0.5, kill_grace=0.5)
    assert time.monotonic() - started < 4


def test_stream_raises_on_failure_with_the_output_tail() -> None:
    with pytest.raises(CommandError, match=r"^sh failed \(exit 2\): error: broken$"):
        stream(["sh", "-c", "echo fine; echo 'error: broken'; exit 2"], timeout=10)


def test_tool_missing_names_rpm_ostree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing, match="rpm-ostree"):
        stream(["rpm-ostree", "--version"], timeout=5)


def test_logged_command_lines_are_readable_and_paste_back_into_a_shell(tmp_path: Path) -> None:
    args = ["printf", "%s\n", "--add-metadata=version='41.20261125.1'", "it's $HOME", "plain", "a b"]
    log = ListLog()

    run(args, log=log)

    line = log.commands[0]
    assert "\"--add-metadata=version='41.20261125.1'\"" in line
    # The shell reads back exactly the arguments that ran.
    echoed = subprocess.run(["bash", "-c", f"{line}"], capture_output=True, text=True, check=True).stdout
    assert echoed.splitlines() == args[2:]
