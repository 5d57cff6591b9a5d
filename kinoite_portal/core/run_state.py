"""What `manage.py run_portal` tells other processes started from the same checkout.

run_portal starts its own Redis on a unix socket under ``var/run/``; a ``manage.py compose --wait`` typed in a second
terminal must queue its task on that Redis, not on ``redis://127.0.0.1:6379/0``. run_portal writes the settings a
second process needs to ``var/run/portal.json`` and removes the file on a clean shutdown; the settings read it when
the environment does not say otherwise. A file left behind by a crash is ignored: its process is gone, or its socket
no longer accepts connections.

Settings import this module, so it imports nothing from Django or the portal.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path
from typing import Any

FILE_NAME = "portal.json"
# The keys run_portal shares; anything else in the file is ignored.
SHARED_KEYS = ("REDIS_URL", "DATABASE_URL", "PORTAL_PUBLIC_URL")


def run_state_path(var_dir: Path) -> Path:
    return var_dir / "run" / FILE_NAME


def run_state_write(*, var_dir: Path, values: dict[str, str]) -> Path:
    """Write the shared settings of the running stack, readable by this user only (DATABASE_URL may hold a password)."""
    path = run_state_path(var_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"pid": os.getpid(), **{k: v for k, v in values.items() if k in SHARED_KEYS}}, handle)
    os.replace(temporary, path)
    return path


def run_state_remove(*, var_dir: Path) -> None:
    """Remove the file if this process wrote it (a second run_portal may have replaced it)."""
    path = run_state_path(var_dir)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


def run_state_read(var_dir: Path) -> dict[str, str]:
    """Return the shared settings of a live run_portal of this checkout, or {} when none runs."""
    try:
        data: Any = json.loads(run_state_path(var_dir).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int) or not _process_alive(data["pid"]):
        return {}
    redis_url = data.get("REDIS_URL", "")
    on_socket = isinstance(redis_url, str) and redis_url.startswith(("unix://", "redis+socket://"))
    if on_socket and not _socket_accepts(redis_url.split("://", 1)[1].split("?", 1)[0]):
        return {}
    return {key: value for key, value in data.items() if key in SHARED_KEYS and isinstance(value, str)}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, but another user's
    return True


def _socket_accepts(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True
