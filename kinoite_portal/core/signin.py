"""Sign-in throttling and the audit of failed sign-ins (every sign-in form: the portal's and the admin's).

A small one of our own rather than django-axes: the audit trail must record each failed sign-in anyway, and those
records are exactly what a throttle counts, so counting them needs no second store, no extra middleware or
authentication backend, and works the same for local and directory (LDAP) accounts and across gunicorn processes.
Limits: ``PORTAL_SIGNIN_MAX_FAILURES_PER_USER`` failed attempts for one user name (since that user's last
successful sign-in) and ``PORTAL_SIGNIN_MAX_FAILURES_PER_ADDRESS`` from one address, within
``PORTAL_SIGNIN_WINDOW_MINUTES``. A throttled attempt is refused before the password is checked, so guessing
stops even for the right password, and is audited too. The web server in front should rate-limit ``/login/`` and
``/admin/login/`` as well (deploy/README.md).
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from kinoite_portal.core.audit import audit_record
from kinoite_portal.core.models import AuditEvent

FAILED = "auth.signin_failed"
THROTTLED = "auth.signin_throttled"


def client_address(request: HttpRequest | None) -> str:
    """Return the address of the client: the web server's X-Forwarded-For entry when it came through it.

    Only the last entry is used (the one the web server in front added); earlier ones are whatever the client sent.
    """
    if request is None:
        return ""
    remote = request.META.get("REMOTE_ADDR") or ""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and remote in settings.PORTAL_TRUSTED_PROXIES:
        candidate = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass
    return remote


def _failures(*, since: Any, **data: str) -> int:
    lookups = {f"data__{key}": value for key, value in data.items()}
    return AuditEvent.objects.filter(action=FAILED, created_at__gte=since, **lookups).count()


def signin_refusal(*, username: str, address: str) -> str:
    """Return why a sign-in attempt is refused before its password is checked, or ''."""
    window_start = timezone.now() - timedelta(minutes=settings.PORTAL_SIGNIN_WINDOW_MINUTES)
    minutes = settings.PORTAL_SIGNIN_WINDOW_MINUTES
    if username:
        user = get_user_model()._default_manager.filter(username=username).only("last_login").first()
        last_login = user.last_login if user is not None else None
        since = max(window_start, last_login) if last_login else window_start
        if _failures(since=since, username=username) >= settings.PORTAL_SIGNIN_MAX_FAILURES_PER_USER:
            return f"Too many failed sign-ins for this user name; try again in {minutes} minutes."
    if address and _failures(since=window_start, address=address) >= settings.PORTAL_SIGNIN_MAX_FAILURES_PER_ADDRESS:
        return f"Too many failed sign-ins from your address; try again in {minutes} minutes."
    return ""


@receiver(user_login_failed, dispatch_uid="kinoite_portal.signin_failed")
def _audit_failed_signin(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any
) -> None:
    """Record every failed sign-in (the password is never in ``credentials``: Django masks it)."""
    username = str(credentials.get("username", ""))[:150]
    address = client_address(request)
    audit_record(
        action=FAILED,
        actor_label=username,
        message=f"Failed sign-in as {username!r} from {address or 'an unknown address'}",
        data={"username": username, "address": address},
    )


class _Throttled:
    """Refuses the attempt before the password is checked while its user name or address is throttled."""

    request: HttpRequest | None

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data  # type: ignore[attr-defined]
        username = str(data.get("username") or "")
        address = client_address(self.request)
        refusal = signin_refusal(username=username, address=address)
        if refusal:
            audit_record(
                action=THROTTLED,
                actor_label=username[:150],
                message=f"Refused a sign-in as {username!r} from {address or 'an unknown address'}: {refusal}",
                data={"username": username, "address": address},
            )
            raise forms.ValidationError(refusal, code="throttled")
        return super().clean()  # type: ignore[misc,no-any-return]


class SigninForm(_Throttled, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your username and password didn't match. Please try again.",
    }


class AdminSigninForm(_Throttled, AdminAuthenticationForm):
    pass
