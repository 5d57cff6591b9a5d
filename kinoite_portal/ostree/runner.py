"""Run external commands: the one place in the product that starts a subprocess."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from .errors import CommandCancelled, CommandError, CommandTimeout, ToolMissing

DEFAULT_TIMEOUT = 600.0
KILL_GRACE_S = 5.0
CANCEL_POLL_S = 0.5
STDERR_TAIL_LINES = 20


class LogSink(Protocol):
    """Receive job-log text one line at a time, without a trailing newline."""

    def write(self, text: str) -> None:
        """Append one line to the log."""


class NullLog:
    """Discard everything."""

    def write(self, text: str) -> None:
        """Drop ``text``."""


@dataclass
class ListLog:
    """Collect log lines in memory (for tests and for short jobs)."""

    lines: list[str] = field(default_factory=list)

    def write(self, text: str) -> None:
        """Append ``text`` to ``lines``."""
        self.lines.append(text)

    @property
    def commands(self) -> list[str]:
        """Return the command lines (``+ ...``) written so far, without the ``+ `` prefix."""
        return [line[2:] for line in self.lines if line.startswith("+ ")]

    def text(self) -> str:
        """Return the whole log as one string."""
        return "\n".join(self.lines)


@dataclass
class FuncLog:
    """Adapt a plain callable (``print``, ``job.append_log``) into a LogSink."""

    func: Callable[[str], object]

    def write(self, text: str) -> None:
        """Pass ``text`` to the wrapped callable."""
        self.func(text)


@dataclass(frozen=True)
class CommandResult:
    """What one finished command produced."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float

    @property
    def ok(self) -> bool:
        """Return True if the command exited 0."""
        return self.returncode == 0


def resolve_tool(name: str) -> str:
    """Return the absolute path of ``name`` on PATH, or raise ToolMissing."""
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(name)
    return found


def _build_env(env: Mapping[str, str] | None) -> dict[str, str]:
    merged = dict(os.environ)
    # Parsers depend on untranslated messages; a UTF-8 C locale keeps ostree's output stable everywhere.
    merged["LC_ALL"] = "C.UTF-8"
    merged.pop("LANGUAGE", None)
    if env:
        merged.update(env)
    return merged


def _tail(text: str, lines: int = STDERR_TAIL_LINES) -> list[str]:
    return [line for line in text.splitlines() if line.strip()][-lines:]


def _kill_group(proc: subprocess.Popen[str], grace: float) -> None:
    """Send SIGTERM to the process group, then SIGKILL if it is still alive after ``grace`` seconds."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    # SIGKILL the group even if the leader exited: children started by it may still run.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


_SAFE_IN_DOUBLE_QUOTES = re.compile(r'[^"$`\\!]*')


def display_command(args: Sequence[str]) -> str:
    """Return a command line a person can read and paste into a shell.

    ``shlex.join`` quotes with single quotes only, so GVariant text (``version='41.1'``) turns into ``'"'"'`` soup;
    an argument free of the characters a shell expands inside double quotes is shown in double quotes instead.
    """
    shown = []
    for arg in args:
        quoted = shlex.quote(arg)
        if quoted != arg and "'" in arg and _SAFE_IN_DOUBLE_QUOTES.fullmatch(arg):
            quoted = f'"{arg}"'
        shown.append(quoted)
    return " ".join(shown)


def _prepare(argv: Sequence[str], log: LogSink | None) -> tuple[list[str], LogSink]:
    if isinstance(argv, str):
        raise TypeError("argv must be a sequence of arguments, not a string")
    args = [os.fspath(a) for a in argv]
    if not args:
        raise ValueError("argv is empty")
    resolved = resolve_tool(args[0])
    sink: LogSink = log if log is not None else NullLog()
    sink.write("+ " + display_command(args))
    return [resolved, *args[1:]], sink


def run(
    argv: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    log: LogSink | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    check: bool = True,
    input_text: str | None = None,
) -> CommandResult:
    """Run ``argv`` without a shell and return its output; raise CommandError on a non-zero exit if ``check``.

    ``env`` is added on top of the current environment. The command line is written to ``log`` before it runs.
    """
    real_argv, sink = _prepare(argv, log)
    shown = tuple(os.fspath(a) for a in argv)
    started = time.monotonic()
    proc = subprocess.Popen(
        real_argv,
        shell=False,
        stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=_build_env(env),
        cwd=cwd,
        # A session of its own lets a timeout kill helpers the command started (gpg-agent is started with --daemon
        # and leaves the group on its own, so it survives, as it should).
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(input=input_text, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc, KILL_GRACE_S)
        stdout, stderr = proc.communicate()
        sink.write(f"! killed after {timeout:g} s")
        for line in _tail(stderr):
            sink.write(line)
        raise CommandTimeout(shown, timeout, stdout, stderr) from None
    except BaseException:
        _kill_group(proc, KILL_GRACE_S)
        raise
    result = CommandResult(shown, proc.returncode, stdout, stderr, time.monotonic() - started)
    if result.returncode != 0:
        sink.write(f"! exit {result.returncode}")
        for line in _tail(stderr or stdout):
            sink.write(line)
        if check:
            raise CommandError(shown, result.returncode, stdout, stderr)
    return result


def _pump(stream: IO[str], sink: LogSink, collected: list[str]) -> None:
    for line in iter(stream.readline, ""):
        line = line.rstrip("\n")
        collected.append(line)
        sink.write(line)
    stream.close()


def stream(
    argv: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    log: LogSink | None = None,
    should_cancel: Callable[[], bool] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    check: bool = True,
    kill_grace: float = KILL_GRACE_S,
) -> CommandResult:
    """Run a long command, writing each output line (stdout and stderr merged) to ``log`` as it arrives.

    The whole process group is killed on timeout (CommandTimeout) or when ``should_cancel()`` returns True
    (CommandCancelled); ``should_cancel`` is polled about every half second.
    """
    real_argv, sink = _prepare(argv, log)
    shown = tuple(os.fspath(a) for a in argv)
    started = time.monotonic()
    proc = subprocess.Popen(
        real_argv,
        shell=False,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
        env=_build_env(env),
        cwd=cwd,
        start_new_session=True,
    )
    assert proc.stdout is not None
    collected: list[str] = []
    reader = threading.Thread(target=_pump, args=(proc.stdout, sink, collected), daemon=True)
    reader.start()
    deadline = started + timeout
    stopped: str | None = None
    try:
        while True:
            try:
                proc.wait(timeout=max(0.0, min(CANCEL_POLL_S, deadline - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() >= deadline:
                stopped = "timeout"
            elif should_cancel is not None and should_cancel():
                stopped = "cancel"
            if stopped:
                _kill_group(proc, kill_grace)
                break
    except BaseException:
        _kill_group(proc, kill_grace)
        raise
    finally:
        # The reader ends when every holder of the pipe's write end is gone; a daemonised grandchild could keep it
        # open forever, so do not wait without bound.
        reader.join(timeout=kill_grace + 1)
    output = "\n".join(collected)
    if stopped == "timeout":
        sink.write(f"! killed after {timeout:g} s")
        raise CommandTimeout(shown, timeout, output, "")
    if stopped == "cancel":
        sink.write("! cancelled")
        raise CommandCancelled(shown, proc.returncode, output, "")
    result = CommandResult(shown, proc.returncode, output, "", time.monotonic() - started)
    if result.returncode != 0:
        sink.write(f"! exit {result.returncode}")
        if check:
            raise CommandError(shown, result.returncode, output, "")
    return result
