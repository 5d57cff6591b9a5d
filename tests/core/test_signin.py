"""Failed sign-ins are audited and throttled per user name and per address, on the portal's and the admin's form."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.core.signin import FAILED, THROTTLED
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def _sign_in(username: str, password: str, *, address: str = "192.0.2.10", path: str = "/login/") -> Client:
    """POST the sign-in form through the web server in front (it adds X-Forwarded-For); return the client."""
    client = Client(HTTP_X_FORWARDED_FOR=address)
    client.post(path, {"username": username, "password": password})
    return client


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def rita() -> User:
    return make_user("rita")


def test_it_audits_a_failed_sign_in_with_the_user_name_and_address_but_never_the_password(rita: User) -> None:
    assert not _signed_in(_sign_in("rita", "wrong-secret-123"))

    event = AuditEvent.objects.get(action=FAILED)
    assert event.data == {"username": "rita", "address": "192.0.2.10"}
    assert event.actor_label == "rita"
    assert "wrong-secret-123" not in f"{event.message} {event.data}"


def test_five_failures_for_one_user_name_refuse_even_the_right_password(rita: User) -> None:
    for attempt in range(5):
        _sign_in("rita", f"guess-{attempt}", address=f"198.51.100.{attempt}")

    client = Client(HTTP_X_FORWARDED_FOR="203.0.113.7")
    page = client.post("/login/", {"username": "rita", "password": "pw-rita"}).content.decode()

    assert not _signed_in(client)
    assert "Too many failed sign-ins for this user name; try again in 15 minutes." in page
    assert AuditEvent.objects.filter(action=THROTTLED, data__username="rita").count() == 1
    make_user("olga")
    assert _signed_in(_sign_in("olga", "pw-olga", address="203.0.113.7"))  # the address itself is not throttled


def test_twenty_failures_from_one_address_refuse_it_but_not_other_addresses(rita: User) -> None:
    for attempt in range(20):
        _sign_in(f"nobody-{attempt}", "guess", address="192.0.2.66")

    refused = _sign_in("rita", "pw-rita", address="192.0.2.66")
    accepted = _sign_in("rita", "pw-rita", address="192.0.2.67")

    assert not _signed_in(refused)
    assert _signed_in(accepted)


def test_the_admin_sign_in_is_throttled_too(admin_user: User) -> None:
    for attempt in range(5):
        _sign_in("root-admin", f"guess-{attempt}", path="/admin/login/")

    client = Client(HTTP_X_FORWARDED_FOR="192.0.2.10")
    page = client.post("/admin/login/", {"username": "root-admin", "password": "pw-root-admin"}).content.decode()

    assert not _signed_in(client)
    assert "Too many failed sign-ins for this user name" in page


def test_a_successful_sign_in_clears_the_user_names_count(rita: User) -> None:
    for attempt in range(4):
        _sign_in("rita", f"guess-{attempt}")
    assert _signed_in(_sign_in("rita", "pw-rita"))
    for attempt in range(4):
        _sign_in("rita", f"again-{attempt}")

    assert _signed_in(_sign_in("rita", "pw-rita"))


def test_it_trusts_x_forwarded_for_only_from_the_web_server_in_front(rita: User) -> None:
    Client(REMOTE_ADDR="198.51.100.20", HTTP_X_FORWARDED_FOR="10.9.9.9").post(
        "/login/", {"username": "rita", "password": "wrong"}
    )

    assert AuditEvent.objects.get(action=FAILED).data["address"] == "198.51.100.20"
