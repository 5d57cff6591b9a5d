from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from kinoite_portal.core.api_tokens import api_token_authenticate, api_token_create, api_token_revoke
from kinoite_portal.core.models import ApiToken, AuditEvent


def test_a_new_token_is_stored_only_as_a_hash_and_authenticates(release_engineer) -> None:
    created = api_token_create(user=release_engineer, name="ansible")

    stored = ApiToken.objects.get(pk=created.token.pk)
    assert created.raw.startswith("kpa_")
    assert created.raw not in (stored.token_hash, stored.prefix)
    assert api_token_authenticate(created.raw) == stored
    assert ApiToken.objects.get(pk=stored.pk).last_used_at is not None


def test_revoked_expired_and_forged_tokens_do_not_authenticate(release_engineer) -> None:
    revoked = api_token_create(user=release_engineer, name="old")
    api_token_revoke(token=revoked.token)
    expiring = api_token_create(user=release_engineer, name="short", expires_at=timezone.now() + timedelta(seconds=1))
    ApiToken.objects.filter(pk=expiring.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert api_token_authenticate(revoked.raw) is None
    assert api_token_authenticate(expiring.raw) is None
    assert api_token_authenticate(revoked.raw[:-2] + "xx") is None


def test_a_token_of_a_deactivated_user_does_not_authenticate(release_engineer) -> None:
    created = api_token_create(user=release_engineer, name="ansible")
    release_engineer.is_active = False
    release_engineer.save()

    assert api_token_authenticate(created.raw) is None


def test_the_command_prints_the_token_once_and_audits(release_engineer) -> None:
    out, err = StringIO(), StringIO()

    call_command(
        "create_api_token", release_engineer.username, "--name", "ansible", "--days", "30", stdout=out, stderr=err
    )

    raw = out.getvalue().strip()
    assert api_token_authenticate(raw).user == release_engineer
    assert "shown only now" in err.getvalue()
    assert AuditEvent.objects.filter(action="core.api_token_create").count() == 1


def test_the_command_refuses_unknown_users_and_bad_expiry_and_creates_nothing(release_engineer) -> None:
    with pytest.raises(CommandError, match="No user called 'ghost'"):
        call_command("create_api_token", "ghost", "--name", "x")
    with pytest.raises(CommandError, match="--days must be at least 1"):
        call_command("create_api_token", release_engineer.username, "--name", "x", "--days", "0")
    with pytest.raises(CommandError, match="needs a name"):
        call_command("create_api_token", release_engineer.username, "--name", " ")
    assert ApiToken.objects.count() == 0


def test_the_admin_shows_the_raw_token_once_and_stores_its_hash(admin_user, release_engineer, client_for) -> None:
    client = client_for(admin_user)

    response = client.post(
        "/admin/core/apitoken/add/",
        {"user": release_engineer.pk, "name": "cron", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )

    token = ApiToken.objects.get()
    shown = next(str(m) for m in response.context["messages"] if "shown only now" in str(m))
    raw = shown.rsplit(": ", 1)[1]
    assert api_token_authenticate(raw) == token
    assert raw not in client.get(f"/admin/core/apitoken/{token.pk}/change/").content.decode()
