"""Run the whole portal for a first look: Redis, a Celery worker and beat, and gunicorn, until Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from kinoite_portal.core.demo import seed_users
from kinoite_portal.core.run_state import run_state_read, run_state_remove, run_state_write
from kinoite_portal.ostree import OstreeError, gpg

DEFAULT_ALLOWED_HOSTS = "127.0.0.1,localhost,[::1]"


def public_url_for_bind(bind: str) -> str:
    """Return the URL people and desktops reach a gunicorn ``--bind`` address at (a wildcard means this host's name)."""
    if bind.startswith(("unix:", "fd://")):
        return "http://127.0.0.1:8000"
    host, _, port = bind.rpartition(":")
    if not host or host.endswith(":"):  # "8000" alone is not a form gunicorn takes; a bare host means port 8000
        host, port = bind, "8000"
    if host in {"0.0.0.0", "[::]", "::", ""}:  # noqa: S104 (this is a comparison, not a bind)
        host = socket.getfqdn()
    return f"http://{host}:{port}"


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
        running = run_state_read(var_dir)
        if running:
            raise CommandError(
                f"run_portal already runs for this checkout (its Redis is {running.get('REDIS_URL')}); stop it first."
            )
        run_dir = var_dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        run_dir.chmod(0o700)
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
            self._share_settings(env, var_dir, options["bind"])
            self.stdout.write("Migrating the database…")
            call_command("migrate", interactive=False, verbosity=0)
            call_command("collectstatic", interactive=False, verbosity=0)
            if not options["no_demo"]:
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
            run_state_remove(var_dir=var_dir)

    def _share_settings(self, env: dict[str, str], var_dir: Path, bind: str) -> None:
        """Give the children, this process and any later `manage.py` of this checkout the same broker and URLs."""
        from kinoite_portal.celery import app as celery_app

        if not os.environ.get("PORTAL_PUBLIC_URL"):
            env["PORTAL_PUBLIC_URL"] = public_url_for_bind(bind)
            host = env["PORTAL_PUBLIC_URL"].split("://", 1)[1].rsplit(":", 1)[0]
            if not os.environ.get("ALLOWED_HOSTS") and host not in DEFAULT_ALLOWED_HOSTS.split(","):
                env["ALLOWED_HOSTS"] = f"{DEFAULT_ALLOWED_HOSTS},{host}"
                settings.ALLOWED_HOSTS = env["ALLOWED_HOSTS"].split(",")
        shared = {key: env[key] for key in ("REDIS_URL", "DATABASE_URL", "PORTAL_PUBLIC_URL") if env.get(key)}
        run_state_write(var_dir=var_dir, values=shared)
        settings.REDIS_URL = env.get("REDIS_URL", settings.REDIS_URL)
        settings.CELERY_BROKER_URL = env.get("CELERY_BROKER_URL") or settings.REDIS_URL.replace(
            "unix://", "redis+socket://", 1
        )
        settings.PORTAL_PUBLIC_URL = env.get("PORTAL_PUBLIC_URL", settings.PORTAL_PUBLIC_URL)
        celery_app.conf.update(broker_url=settings.CELERY_BROKER_URL)

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
        self._stop_gpg_agents()
        self.stdout.write("Stopped.")

    def _stop_gpg_agents(self) -> None:
        """Stop the gpg-agents the demo's signing keys started (this process and the worker sign with them).

        gpg starts one agent per GnuPG home as a daemon, outside the children's sessions, so stopping the children
        leaves it running; it is stopped by its home, never by process name. Every home under the portal's GnuPG
        root belongs to this checkout, and nothing signs any more once the worker has stopped.
        """
        for home in gpg.homes_under(settings.PORTAL_GNUPG_ROOT):
            try:
                gpg.kill_agent(home)
            except OstreeError as exc:
                self.stderr.write(f"Could not stop the gpg-agent of {home}: {exc}")

    def _announce(self, bind: str) -> None:
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Kinoite Portal runs at http://{bind}/  (Ctrl-C stops everything)"))
        for username, password, role in seed_users():
            self.stdout.write(f"  sign in as {username:<10} password {password:<14} {role}")
        self.stdout.write(f"  health: http://{bind}/healthz")
        self.stdout.write("")
        # Piped into a file or `tee`, stdout is block-buffered: the sign-ins must show now, not at exit.
        self.stdout.flush()
