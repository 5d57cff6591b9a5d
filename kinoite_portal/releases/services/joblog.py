"""The one log sink of every job kind (composes, promotions, prunes).

Lines are appended to the job row's ``log`` field in small batches, in the database (``log = log || chunk``), never
by rewriting the whole text, so a page reading the log while the job writes it never races it and a long log costs
nothing more per line. The command lines (``+ ...``) are kept for the audit trail, and every line can be passed on
as it arrives (the ``prune`` command prints them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, connection, models
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

FLUSH_EVERY_S = 0.5


class JobLog:
    """A LogSink for one job; use it as a context manager, which stores what is left when the job ends.

    ``model`` and ``pk`` name the row whose ``log`` field receives the lines (None: lines are only passed on).
    With an ``interval`` a timer thread stores the lines in batches (composes print thousands); without one every
    line is stored as it is written, on the job's own connection, so it is part of the job's transaction.
    """

    def __init__(
        self,
        model: type[models.Model] | None = None,
        pk: int | None = None,
        *,
        progress: Callable[[str], object] | None = None,
        interval: float | None = None,
    ) -> None:
        self.rows: Any = model._default_manager.filter(pk=pk) if model is not None else None
        self.progress = progress
        self.interval = interval
        self.commands: list[str] = []
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def write(self, text: str) -> None:
        if text.startswith("+ "):
            self.commands.append(text[2:])
        if self.progress is not None:
            self.progress(text)
        if self.rows is None:
            return
        stamp = timezone.now().strftime("%H:%M:%S")
        with self._lock:
            self._lines.extend(f"{stamp} {line}" for line in (text.splitlines() or [""]))
        if self.interval is None:
            self.flush()

    def flush(self) -> None:
        """Store the lines written so far (the job's thread calls this before it records a final state)."""
        # One flush at a time (the timer thread and the job's own thread both flush), so lines keep their order.
        with self._flush_lock:
            with self._lock:
                chunk, self._lines = self._lines, []
            if not chunk or self.rows is None:
                return
            try:
                self.rows.update(log=Concat(F("log"), Value("\n".join(chunk) + "\n")))
            except DatabaseError:
                with self._lock:  # kept for the next flush, in order
                    self._lines[:0] = chunk
                raise

    def _loop(self, interval: float) -> None:
        try:
            while not self._stop.wait(interval):
                try:
                    self.flush()
                except DatabaseError:
                    # The database is busy (SQLite locks it while the job's own thread writes): the lines wait for
                    # the next tick, and the job's own thread stores whatever is left when it ends.
                    continue
        finally:
            connection.close()

    def __enter__(self) -> JobLog:
        if self.rows is not None and self.interval is not None:
            self._thread = threading.Thread(target=self._loop, args=(self.interval,), name="job-log", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()
