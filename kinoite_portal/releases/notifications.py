"""Email about promotions: approvers when a request needs them, the requester when it moves on."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db.models import Q
from django.urls import reverse

from kinoite_portal.releases.models import Promotion

logger = logging.getLogger(__name__)


def _link(promotion: Promotion) -> str:
    return settings.PORTAL_PUBLIC_URL.rstrip("/") + reverse("releases:promotion_detail", args=[promotion.pk])


def email_each(subject: str, body: str, recipients: list[str]) -> int:
    """Send one message per recipient (approvers do not see each other's addresses); return how many went out."""
    recipients = sorted({r for r in recipients if r})
    if not recipients:
        return 0
    messages = [EmailMessage(subject, body, None, [to]) for to in recipients]
    try:
        return get_connection(fail_silently=False).send_messages(messages) or 0
    except Exception:
        logger.exception("could not send %r to %s", subject, recipients)
        return 0


def _title(promotion: Promotion) -> str:
    what = "Rollback" if promotion.kind == Promotion.Kind.ROLLBACK else "Promotion"
    version = promotion.commit.version or promotion.commit.checksum[:10]
    return f"{what} #{promotion.pk}: {version} to {promotion.target_stage.name}"


def notify_approvers(promotion: Promotion) -> int:
    """Tell everyone who may approve (except the requester) that a request waits for them."""
    User = get_user_model()
    approvers = (
        User.objects.filter(is_active=True)
        .filter(
            Q(groups__permissions__codename="approve_promotion") | Q(user_permissions__codename="approve_promotion")
        )
        .exclude(pk=promotion.requested_by_id or 0)
        .distinct()
    )
    version = promotion.commit.version or "(no version)"
    body = (
        f"{promotion.requested_by} asks to publish {version} ({promotion.commit.checksum}) as "
        f"{promotion.target_ref} in {promotion.target_stage.name}.\n"
        + (f"Expedited: {promotion.expedite_reason}\n" if promotion.expedited else "")
        + (f"\n{promotion.comment}\n" if promotion.comment else "")
        + f"\nReview and decide: {_link(promotion)}\n"
    )
    return email_each(f"[Kinoite Portal] Approval needed: {_title(promotion)}", body, [u.email for u in approvers])


def notify_requester(promotion: Promotion, event: str, detail: str = "") -> int:
    """Tell the requester that their request was approved, rejected, finished or failed."""
    if promotion.requested_by is None or not promotion.requested_by.is_active:
        return 0
    published = promotion.published_commit if event == "done" else None
    body = (
        f"{_title(promotion)} is {event}.\n"
        + (f"\n{detail}\n" if detail else "")
        + (
            f"\n{promotion.target_stage.name}:{promotion.target_ref} now points at "
            f"{published.version or '(no version)'} ({published.checksum}).\n"
            if published is not None
            else ""
        )
        + f"\n{_link(promotion)}\n"
    )
    return email_each(f"[Kinoite Portal] {_title(promotion)} {event}", body, [promotion.requested_by.email])
