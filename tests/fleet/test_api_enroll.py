from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.core.tokens import token_hash
from kinoite_portal.fleet.models import EnrollmentToken, Host
from kinoite_portal.fleet.services.enrollment import enrollment_token_create, enrollment_token_revoke
from tests.fleet.helpers import booted_on, fake_checksum, machine_id

URL = "/api/v1/enroll"


def enroll(client: Client, token: str, name: str = "fin-001", **body: Any) -> Any:
    data = {"hostname": name, "machine_id": machine_id(name), **body}
    return client.post(
        URL, data=json.dumps(data), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def snapshot() -> list[Any]:
    return [list(Host.objects.order_by("pk").values()), list(EnrollmentToken.objects.order_by("pk").values())]


def test_it_exchanges_an_enrollment_token_for_a_host_token_stored_hashed(finance: Any, client: Client) -> None:
    created = enrollment_token_create(department=finance)
    response = enroll(client, created.raw)
    assert response.status_code == 201
    raw = response.json()["token"]
    host = Host.objects.get(machine_id=machine_id("fin-001"))
    assert host.department == finance
    assert host.token_hash == token_hash(raw)
    assert raw not in json.dumps(list(Host.objects.values()), default=str)
    assert EnrollmentToken.objects.get().uses == 1


def test_it_answers_410_to_a_used_up_token_and_stores_nothing(finance: Any, client: Client) -> None:
    created = enrollment_token_create(department=finance, max_uses=1)
    assert enroll(client, created.raw, "fin-001").status_code == 201
    before = snapshot()
    response = enroll(client, created.raw, "fin-002")
    assert response.status_code == 410
    assert response.json()["error"] == "used_up"
    assert snapshot() == before


def test_it_answers_410_to_an_expired_token_and_stores_nothing(finance: Any, client: Client) -> None:
    created = enrollment_token_create(department=finance)
    EnrollmentToken.objects.filter(pk=created.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    before = snapshot()
    response = enroll(client, created.raw)
    assert response.status_code == 410
    assert response.json()["error"] == "expired"
    assert snapshot() == before


def test_it_answers_410_to_a_revoked_token(finance: Any, client: Client) -> None:
    created = enrollment_token_create(department=finance)
    enrollment_token_revoke(token=created.token)
    before = snapshot()
    assert enroll(client, created.raw).json()["error"] == "revoked"
    assert snapshot() == before


def test_it_answers_401_to_an_unknown_token(finance: Any, client: Client) -> None:
    enrollment_token_create(department=finance)
    before = snapshot()
    response = enroll(client, "kpe_made-up")
    assert response.status_code == 401
    assert snapshot() == before


def test_it_answers_400_to_a_bad_machine_id_without_using_the_token(finance: Any, client: Client) -> None:
    created = enrollment_token_create(department=finance)
    before = snapshot()
    response = enroll(client, created.raw, machine_id="../../etc/passwd")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_field"
    assert snapshot() == before


def _checkin(client: Client, token: str) -> int:
    checkin = {"hostname": "fin-001", "machine_id": machine_id("fin-001"), "status": booted_on(fake_checksum("a"))}
    response = client.post(
        "/api/v1/checkin",
        data=json.dumps(checkin),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    return int(response.status_code)


def test_re_enrolling_a_machine_with_a_token_of_its_own_department_replaces_its_token(
    finance: Any, client: Client
) -> None:
    first = enroll(client, enrollment_token_create(department=finance).raw).json()["token"]
    response = enroll(client, enrollment_token_create(department=finance).raw)
    assert response.status_code == 200
    second = response.json()["token"]
    host = Host.objects.get()
    assert host.department == finance
    assert host.token_hash == token_hash(second) != token_hash(first)
    assert _checkin(client, first) == 401
    assert AuditEvent.objects.filter(action="fleet.host_enroll", message__startswith="Re-enrolled").count() == 1


def test_another_departments_token_cannot_take_over_a_known_machine(finance: Any, sales: Any, client: Client) -> None:
    real = enroll(client, enrollment_token_create(department=finance).raw).json()["token"]
    intruder = enrollment_token_create(department=sales)
    before = snapshot()

    response = enroll(client, intruder.raw)

    assert response.status_code == 409
    assert response.json()["error"] == "other_department"
    assert "enrolled in the department finance" in response.json()["detail"]
    assert snapshot() == before  # not moved, token kept, the intruder's token not even used
    assert _checkin(client, real) == 200
    refused = AuditEvent.objects.get(action="fleet.host_enroll_refused")
    assert "an administrator moves a desktop between departments" in refused.message


def test_an_administrator_moves_a_machine_and_then_its_new_departments_token_enrolls_it(
    finance: Any, sales: Any, client: Client, admin_user: Any
) -> None:
    enroll(client, enrollment_token_create(department=finance).raw)
    host = Host.objects.get()
    admin = Client()
    admin.force_login(admin_user)

    page = admin.post(f"/admin/fleet/host/{host.pk}/change/", {"hostname": host.hostname, "department": sales.pk})

    assert page.status_code == 302
    assert Host.objects.get().department == sales
    move = AuditEvent.objects.get(action="fleet.host_move")
    assert (move.actor, move.data) == (admin_user, {"from": "finance", "to": "sales"})
    assert enroll(client, enrollment_token_create(department=sales).raw).status_code == 200
