"""Shared helpers for the release commands: act as a named portal user, find a promotion or a stage."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.models import Promotion, Stage
from kinoite_portal.releases.services.approvals import approval_grant, approval_reject


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


def stage_by_name(name: str) -> Stage:
    """Return the stage called ``name``, or fail with the names there are."""
    stage = Stage.objects.filter(name=name).first()
    if stage is None:
        names = ", ".join(Stage.objects.values_list("name", flat=True)) or "none"
        raise CommandError(f"no stage {name!r} (stages: {names})")
    return stage


def describe(promotion: Promotion) -> str:
    missing = "; ".join(promotion.policy.get("missing", [])) if promotion.policy else ""
    return f"{promotion.get_kind_display()} #{promotion.pk} is {promotion.state}" + (
        f" (missing: {missing})" if missing else ""
    )


class VoteCommand(BaseCommand):
    """Approve or reject a promotion from the command line, under the same policy as the browser."""

    decision = "approve"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("promotion_id", type=int)
        parser.add_argument("--as", dest="username", required=True, help="Portal user who votes.")
        parser.add_argument("--comment", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        decide = approval_grant if self.decision == "approve" else approval_reject
        try:
            promotion = decide(
                user=acting_user(options["username"]),
                promotion=promotion_by_id(options["promotion_id"]),
                comment=options["comment"],
            )
        except PromotionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(describe(promotion)))
