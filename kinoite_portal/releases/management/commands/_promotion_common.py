"""Shared helpers for the promote/approve/reject/rollback commands: act as a named portal user."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from kinoite_portal.releases.models import Promotion


def acting_user(username: str) -> Any:
    """Return the active user the command acts as; their permissions apply exactly as in the browser."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"No active user {username!r}: pass --as USERNAME of a portal user.")
    return user


def promotion_by_id(pk: int) -> Promotion:
    promotion = Promotion.objects.filter(pk=pk).first()
    if promotion is None:
        raise CommandError(f"No promotion #{pk}.")
    return promotion


def describe(promotion: Promotion) -> str:
    missing = "; ".join(promotion.policy.get("missing", [])) if promotion.policy else ""
    return f"{promotion.get_kind_display()} #{promotion.pk} is {promotion.state}" + (
        f" (missing: {missing})" if missing else ""
    )
