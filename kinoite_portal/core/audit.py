"""Writing the append-only audit trail."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import models

from kinoite_portal.core.models import AuditEvent


def audit_record(
    *,
    action: str,
    actor: Any = None,
    actor_label: str = "",
    obj: models.Model | None = None,
    message: str = "",
    commands: Iterable[str] = (),
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit trail."""
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        action=action,
        actor=user,
        actor_label=actor_label or ("" if user else "system"),
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        message=message,
        commands=list(commands),
        data=data or {},
    )


def audit_recorded_since(*, action: str, obj: models.Model, since: datetime) -> bool:
    """Return whether ``action`` was recorded for ``obj`` at or after ``since`` (e.g. "re-queued a moment ago?")."""
    return AuditEvent.objects.filter(
        action=action, object_type=obj._meta.label_lower, object_id=str(obj.pk), created_at__gte=since
    ).exists()
