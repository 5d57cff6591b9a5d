"""Run the whole portal for a first look: Redis, a Celery worker and beat, and gunicorn, until Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from kinoite_portal.core.demo import seed_users


class Command(BaseCommand):
    help = "Migrate, load the demo data, then run Redis (unless REDIS_URL is set), a worker, beat and gunicorn."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000", help="Address gunicorn listens on.")
        parser.add_argument("--no-demo", action="store_true", help="Skip the demo data.")

    def handle(self, *args: Any, **options: Any) -> None:
        for binary in ("ostree", "gpg"):
            if shutil.which(binary) is None:
                raise CommandError(f"{binary} is not installed: run deploy/dev/install-system-packages.sh run")
        var_dir = Path(settings.VAR_DIR)
        run_dir = var_dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = False
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        env = dict(os.environ)
        try:
            if "REDIS_URL" not in os.environ:
                socket_path = run_dir / "redis.sock"
                self._start(
                    "redis",
                    [
                        self._which("redis-server"),
                        "--port",
                        "0",
                        "--unixsocket",
                        str(socket_path),
                        "--unixsocketperm",
                        "700",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        str(run_dir),
                        "--loglevel",
                        "warning",
                    ],
                )
                self._wait_for(lambda: socket_path.exists(), "Redis")
                env["REDIS_URL"] = f"unix://{socket_path}"
                env.pop("CELERY_BROKER_URL", None)
            self.stdout.write("Migrating the database…")
            call_command("migrate", interactive=False, verbosity=0)
            call_command("collectstatic", interactive=False, verbosity=0)
            if not options["no_demo"]:
                os.environ["REDIS_URL"] = env.get("REDIS_URL", settings.REDIS_URL)
                call_command("seed_demo")
            python = sys.executable
            self._start(
                "worker",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "kinoite_portal",
                    "worker",
                    "-Q",
                    "default,compose,repo",
                    "--concurrency=2",
                    "-n",
                    "demo@%h",
                    "--loglevel=INFO",
                ],
                env,
            )
            self._start(
                "beat",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "kinoite_portal",
                    "beat",
                    "--loglevel=INFO",
                    "-s",
                    str(run_dir / "celerybeat-schedule"),
                ],
                env,
            )
            self._start(
                "web",
                [
                    python,
                    "-m",
                    "gunicorn",
                    "kinoite_portal.wsgi:application",
                    "--bind",
                    options["bind"],
                    "--workers",
                    "2",
                    "--threads",
                    "4",
                    "--access-logfile",
                    "-",
                ],
                env,
            )
            self._announce(options["bind"])
            while not self.stopping:
                for name, proc in self.children:
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping everything.")
                        self.stopping = True
                time.sleep(0.5)
        finally:
            self._stop_all()

    def _which(self, binary: str) -> str:
        path = shutil.which(binary)
        if path is None:
            raise CommandError(f"{binary} is not installed: run deploy/dev/install-system-packages.sh run")
        return path

    def _start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        # Each child gets its own session so Ctrl-C reaches only this command, which then stops them in order.
        proc = subprocess.Popen(argv, env=env, start_new_session=True)
        self.children.append((name, proc))
        self.stdout.write(f"Started {name} (pid {proc.pid})")

    def _wait_for(self, predicate: Any, what: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise CommandError(f"{what} did not start within {timeout} s")
            time.sleep(0.05)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def _stop_all(self) -> None:
        # Web first, Redis last: the worker finishes its warm shutdown while its broker is still there.
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                self.stdout.write(f"Stopping {name} (pid {proc.pid})…")
                proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in 20 s; killing it.")
                proc.kill()
                proc.wait(5)
        self.stdout.write("Stopped.")

    def _announce(self, bind: str) -> None:
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Kinoite Portal runs at http://{bind}/  (Ctrl-C stops everything)"))
        for username, password, role in seed_users():
            self.stdout.write(f"  sign in as {username:<10} password {password:<14} {role}")
        self.stdout.write(f"  health: http://{bind}/healthz")
        self.stdout.write("")
