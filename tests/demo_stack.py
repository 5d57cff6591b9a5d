"""`make run`'s stack for a test: `manage.py run_portal` in a fresh copy of the checkout, started as a new user would.

The copy has its own `var/`, so the demo, its repos and `var/run/portal.json` are the copy's; every process gets only
PATH and HOME, as a new terminal has.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.services import PROJECT_DIR, free_port, wait_until


@dataclass
class DemoStack:
    checkout: Path
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def password(self, username: str) -> str:
        lines = (self.checkout / "var" / "demo-credentials.txt").read_text().splitlines()
        return dict(line.split(" ", 1) for line in lines)[username]

    def manage(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run `manage.py` in this checkout from a second terminal: no exported variables."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.checkout,
            env=clean_env(self.checkout.parent),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def stop(self) -> int:
        """Press Ctrl-C and return run_portal's exit code."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(60)


def clean_env(home: Path) -> dict[str, str]:
    """What a new terminal has: no DATABASE_URL, no REDIS_URL, no PORTAL_* variables."""
    return {"PATH": os.environ["PATH"], "HOME": str(home)}


def fresh_checkout(target: Path) -> Path:
    """Copy the portal into a folder of its own, so `var/` is that copy's, as in a fresh clone."""
    target.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("kinoite_portal", "templates", "static", "deploy"):
        shutil.copytree(PROJECT_DIR / folder, target / folder, ignore=ignore)
    shutil.copy(PROJECT_DIR / "manage.py", target)
    return target


def healthz(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return json.load(response)
    except OSError as exc:
        body = getattr(exc, "read", None)
        return json.loads(body()) if body else None


@contextmanager
def running_demo(tmp_path: Path) -> Iterator[DemoStack]:
    """Run the demo stack until the block ends; fail with run_portal's output when it does not come up."""
    # A short folder, as a clone usually is: gpg-agent's socket under var/gnupg/ must stay under ~107 characters.
    short = Path(tempfile.mkdtemp(prefix="kp-", dir="/tmp"))
    try:
        with _running_demo(tmp_path, short / "checkout") as stack:
            yield stack
    finally:
        for home in (short / "checkout" / "var" / "gnupg").glob("*"):
            subprocess.run(["gpgconf", f"--homedir={home}", "--kill", "gpg-agent"], check=False, capture_output=True)
        shutil.rmtree(short, ignore_errors=True)


@contextmanager
def _running_demo(tmp_path: Path, target: Path) -> Iterator[DemoStack]:
    checkout = fresh_checkout(target)
    port = free_port()
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_portal", "--bind", f"127.0.0.1:{port}"],
            cwd=checkout,
            # Unbuffered, so the "Started ... (pid N)" lines are in the log as soon as the children run.
            env={**clean_env(tmp_path), "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    stack = DemoStack(checkout=checkout, port=port, proc=proc, log_path=log_path)
    try:
        try:
            wait_until(lambda: (h := healthz(port)) and h.get("status") == "ok", timeout=180, message="healthz ok")
        except TimeoutError as exc:
            raise AssertionError(f"run_portal did not come up:\n{log_path.read_text()}") from exc
        yield stack
    finally:
        _stop_everything(stack)


def _stop_everything(stack: DemoStack) -> None:
    """Stop run_portal as Ctrl-C does; if it hangs, kill it and the sessions of the children it started.

    Killing run_portal alone would orphan Redis, the worker and gunicorn: each runs in a session of its own.
    """
    if stack.proc.poll() is None:
        stack.proc.send_signal(signal.SIGINT)
        try:
            if stack.proc.wait(60) == 0:
                return  # a clean stop: run_portal stopped its children itself
        except subprocess.TimeoutExpired:
            stack.proc.kill()
            stack.proc.wait()
    elif stack.proc.returncode == 0:
        return
    for pid in re.findall(r"Started \w+ \(pid (\d+)\)", stack.log_path.read_text(errors="replace")):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(pid), signal.SIGKILL)
