"""Load GLib, Gio and libostree through PyGObject, on first use.

The import is deferred so that a process which forks (gunicorn's and Celery's prefork masters) never has GLib loaded
before the fork: each child loads it itself. The Typelibs come from ``gir1.2-ostree-1.0`` (Debian) or ``ostree-libs``
(Fedora).
"""

from __future__ import annotations

import functools
from typing import Any

from .errors import OstreeError


@functools.cache
def _modules() -> tuple[Any, Any, Any]:
    try:
        import gi

        gi.require_version("OSTree", "1.0")
        from gi.repository import Gio, GLib, OSTree
    except (ImportError, ValueError) as exc:
        raise OstreeError(
            "libostree is not available to Python: install PyGObject and the OSTree typelib "
            f"(Debian: gir1.2-ostree-1.0; Fedora: ostree-libs): {exc}"
        ) from exc
    return GLib, Gio, OSTree


def glib() -> Any:
    """Return the ``gi.repository.GLib`` module."""
    return _modules()[0]


def gio() -> Any:
    """Return the ``gi.repository.Gio`` module."""
    return _modules()[1]


def ostree() -> Any:
    """Return the ``gi.repository.OSTree`` module."""
    return _modules()[2]
