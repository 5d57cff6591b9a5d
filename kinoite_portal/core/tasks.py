"""Tasks that exercise the worker itself."""

from __future__ import annotations

import os
import socket

from celery import shared_task

from kinoite_portal.core.audit import audit_record


@shared_task(name="core.audit_probe")
def audit_probe(message: str) -> None:
    """Write an audit event from the worker: proves a worker reaches the database, for smoke tests and operators."""
    audit_record(action="worker.probe", actor_label=f"worker {socket.gethostname()}:{os.getpid()}", message=message)
