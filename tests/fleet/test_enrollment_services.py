from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.fleet.models import EnrollmentToken, Host
from kinoite_portal.fleet.services.enrollment import (
    EnrollmentError,
    enrollment_token_create,
    host_enroll,
    host_token_revoke,
)
from tests.fleet.helpers import machine_id


def test_it_returns_the_raw_token_once_and_stores_only_its_hash(finance: Any) -> None:
    created = enrollment_token_create(department=finance, max_uses=5)
    row = EnrollmentToken.objects.get()
    assert created.raw.startswith("kpe_")
    assert row.token_hash != created.raw
    assert created.raw not in row.token_hash
    assert created.raw.startswith(row.prefix)
    assert AuditEvent.objects.filter(action="fleet.enrollment_token_create").exists()


@pytest.mark.parametrize("kwargs", [{"max_uses": 0}, {"expires_at": "past"}])
def test_it_refuses_tokens_that_could_never_be_used(finance: Any, kwargs: dict[str, Any]) -> None:
    if kwargs.get("expires_at") == "past":
        kwargs = {"expires_at": timezone.now() - timedelta(hours=1)}
    with pytest.raises(ValueError, match=r"at least one use|in the future"):
        enrollment_token_create(department=finance, **kwargs)
    assert not EnrollmentToken.objects.exists()


def test_revoking_a_host_token_is_recorded_once(finance: Any, enroll: Any, admin_user: Any) -> None:
    host, _ = enroll(finance, "fin-001")
    assert host_token_revoke(host=host, actor=admin_user)
    assert not host_token_revoke(host=host, actor=admin_user)
    assert host.token_revoked_at is not None
    assert AuditEvent.objects.filter(action="fleet.host_token_revoke").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_enrollments_never_exceed_the_use_limit(finance: Any) -> None:
    created = enrollment_token_create(department=finance, max_uses=3)
    results: list[str] = []
    lock = threading.Lock()

    def attempt(index: int) -> None:
        try:
            host_enroll(raw_token=created.raw, hostname=f"fin-{index:03d}", machine_id=machine_id(f"fin-{index}"))
            outcome = "ok"
        except EnrollmentError as exc:
            outcome = exc.code
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ok") == 3
    assert results.count("used_up") == 5
    assert EnrollmentToken.objects.get().uses == 3
    assert Host.objects.count() == 3
