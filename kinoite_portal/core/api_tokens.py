"""API tokens that let automation (Ansible, cron) act as a user through /api/v1/."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kinoite_portal.core import tokens
from kinoite_portal.core.audit import audit_record
from kinoite_portal.core.models import ApiToken

API_TOKEN_KIND = "kpa"  # noqa: S105 (a prefix, not a secret)


@dataclass(frozen=True)
class CreatedApiToken:
    token: ApiToken
    raw: str


def api_token_create(*, user: Any, name: str, expires_at: datetime | None = None, actor: Any = None) -> CreatedApiToken:
    """Create a token for ``user``; the raw token is returned here once and stored only hashed."""
    if not name.strip():
        raise ValueError("an API token needs a name that says what uses it (e.g. ansible-promote)")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValueError("an API token must expire in the future")
    new = tokens.token_new(API_TOKEN_KIND)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name.strip(), prefix=new.prefix, token_hash=new.token_hash, expires_at=expires_at
        )
        audit_record(
            action="core.api_token_create",
            actor=actor,
            obj=token,
            message=f"API token {new.prefix}… '{token.name}' for {user}",
        )
    return CreatedApiToken(token=token, raw=new.raw)


def api_token_revoke(*, token: ApiToken, actor: Any = None) -> bool:
    """Revoke a token at once; return False if it was already revoked."""
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked:
        audit_record(
            action="core.api_token_revoke", actor=actor, obj=token, message=f"API token {token.prefix}… revoked"
        )
    return bool(revoked)


def api_token_authenticate(raw: str) -> ApiToken | None:
    """Return the live token ``raw`` names (not revoked, not expired, its user active), noting its use."""
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=tokens.token_hash(raw), revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
