"""Email about rollouts: approvers hear when a gate halts a rollout and when the next ring waits for their click."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q

from kinoite_portal.releases.notifications import email_each
from kinoite_portal.rollouts.models import Rollout


def _approver_addresses() -> list[str]:
    User = get_user_model()
    users = (
        User.objects.filter(is_active=True)
        .filter(Q(groups__permissions__codename="manage_rollout") | Q(user_permissions__codename="manage_rollout"))
        .distinct()
    )
    return sorted({user.email for user in users if user.email})


def _title(rollout: Rollout) -> str:
    version = rollout.commit.version or rollout.commit.checksum[:10]
    return f"rollout #{rollout.pk} of {version} on {rollout.stage.name}"


def _link() -> str:
    return settings.PORTAL_PUBLIC_URL.rstrip("/") + "/"


def notify_halted(rollout: Rollout) -> int:
    """Tell the approvers that a rollout halted, why, and what they can do."""
    body = (
        f"The {_title(rollout)} halted: {rollout.halt_reason}\n\n"
        "No ring moves until an approver resumes it. The rings that already have the commit can be rolled back\n"
        f"(manage.py rollout rollback {rollout.pk} --as USER, or the rollout page).\n\n{_link()}\n"
    )
    return email_each(f"[Kinoite Portal] Halted: {_title(rollout)}", body, _approver_addresses())


def notify_gate_waits(rollout: Rollout) -> int:
    """Tell the approvers that a gate passed and the next ring moves only after one of them advances it."""
    body = (
        f"A gate of the {_title(rollout)} passed; the next ring waits for an approver.\n\n"
        f"Advance it on the rollout page or with: manage.py rollout advance {rollout.pk} --reason TEXT --as USER\n\n"
        f"{_link()}\n"
    )
    return email_each(f"[Kinoite Portal] Next ring waits: {_title(rollout)}", body, _approver_addresses())
