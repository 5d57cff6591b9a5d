"""Demo promotions: the first demo dev commit is already in prod, and a newer one waits for an approver."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.models import Promotion, Ref, RefUpdate, Stage, Treefile
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run


def _users() -> tuple[object | None, object | None]:
    User = get_user_model()
    requester = User.objects.filter(
        Q(groups__permissions__codename="request_promotion"), is_active=True, is_superuser=False
    ).first()
    approver = User.objects.filter(
        Q(groups__permissions__codename="approve_promotion"), is_active=True, is_superuser=False
    ).first()
    return requester, approver


def seed_promotions() -> list[Promotion]:
    """Promote the first demo dev commit into prod synchronously and leave the newer one requested; idempotent."""
    stages = list(Stage.objects.order_by("order")[:2])
    treefile = Treefile.objects.filter(name="kinoite").first()
    requester, approver = _users()
    if len(stages) < 2 or treefile is None or requester is None or approver is None:
        return []
    dev, prod = stages
    if Ref.objects.filter(stage=prod, name=treefile.published_ref, head__isnull=False).exists():
        return []
    updates = list(
        RefUpdate.objects.filter(ref__stage=dev, ref__name=treefile.ref)
        .select_related("commit")
        .order_by("moved_at", "id")
    )
    commits = list({u.commit.pk: u.commit for u in updates}.values())
    if not commits:
        return []
    done: list[Promotion] = []
    # The demo commits were just composed: back-date their arrival in dev so the policy's week has passed.
    RefUpdate.objects.filter(pk__in=[u.pk for u in updates]).update(moved_at=timezone.now() - timedelta(days=8))
    try:
        first = promotion_request(
            user=requester,
            checksum=commits[0].checksum,
            treefile=treefile,
            comment="Demo: tested for a week on the pilot ring.",
        )
        first = approval_grant(user=approver, promotion=first, comment="Demo: pilots are healthy.")
        # Synchronously, so the demo works before any worker runs (the queued task then finds it finished).
        done.append(promotion_run(promotion_id=first.pk))
        if len(commits) > 1:
            done.append(
                promotion_request(
                    user=requester,
                    checksum=commits[-1].checksum,
                    treefile=treefile,
                    comment="Demo: the newer compose; please review the package changes.",
                )
            )
    except PromotionError:
        return done
    return done
