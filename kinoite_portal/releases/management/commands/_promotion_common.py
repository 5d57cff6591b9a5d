"""Shared helpers for the release commands: act as a named portal user, find a promotion or a stage."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from kinoite_portal.core.queues import GRACE_SECONDS, queue_unconsumed_message
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


def promotion_wait(command: BaseCommand, promotion: Promotion, *, timeout: float) -> Promotion:
    """Wait until the worker has carried out an approved promotion; fail early when no worker takes the repo queue."""
    started = time.monotonic()
    state = promotion.state
    while promotion.state in (Promotion.State.APPROVED, Promotion.State.QUEUED, Promotion.State.RUNNING):
        waited = time.monotonic() - started
        if waited > timeout:
            raise CommandError(f"{describe(promotion)} after {timeout:g} s")
        if promotion.state != Promotion.State.RUNNING and waited > GRACE_SECONDS:
            problem = queue_unconsumed_message("repo")
            if problem:
                raise CommandError(f"{describe(promotion)}: {problem} (it runs once a worker starts)")
        time.sleep(0.5)
        promotion.refresh_from_db(fields=["state"])
        if promotion.state != state:
            state = promotion.state
            command.stdout.write(f"[{state}]")
    if promotion.state == Promotion.State.FAILED:
        raise CommandError(f"{describe(promotion)}; see its log on the promotion page")
    return promotion


class VoteCommand(BaseCommand):
    """Approve or reject a promotion from the command line, under the same policy as the browser."""

    decision = "approve"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("promotion_id", type=int)
        parser.add_argument("--as", dest="username", required=True, help="Portal user who votes.")
        parser.add_argument("--comment", default="")
        if self.decision == "approve":
            parser.add_argument(
                "--wait", action="store_true", help="When this vote approves it, wait until the worker published it."
            )
            parser.add_argument(
                "--wait-timeout",
                type=float,
                default=None,
                help="Give up waiting after this many s (default: PORTAL_COMMAND_TIMEOUT plus a minute).",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("wait_timeout") is not None and options["wait_timeout"] <= 0:
            raise CommandError("--wait-timeout must be a positive number of seconds")
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
        if options.get("wait") and promotion.state != Promotion.State.REQUESTED:
            timeout = options["wait_timeout"] or settings.PORTAL_COMMAND_TIMEOUT + 60
            self.stdout.write(self.style.SUCCESS(describe(promotion_wait(self, promotion, timeout=timeout))))
