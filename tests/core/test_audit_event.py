from __future__ import annotations

import pytest

from kinoite_portal.core.audit import audit_record
from kinoite_portal.core.models import AuditEvent


def test_audit_events_cannot_be_changed_or_deleted(db) -> None:
    event = audit_record(action="test.action", message="first")

    event.message = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).message == "first"


def test_the_admin_shows_audit_events_read_only(admin_user, client_for) -> None:
    event = audit_record(action="test.action", message="kept")
    client = client_for(admin_user)

    assert client.get(f"/admin/core/auditevent/{event.pk}/change/").status_code == 200
    assert client.post(f"/admin/core/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/core/auditevent/add/").status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()
