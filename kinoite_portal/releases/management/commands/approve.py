from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kinoite_portal.releases.management.commands._promotion_common import acting_user, describe, promotion_by_id
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.promotions import PromotionError


class Command(BaseCommand):
    help = "Approve a promotion as a member of the approvers group (the same policy as the browser)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("promotion_id", type=int)
        parser.add_argument("--as", dest="username", required=True, help="Portal user who votes.")
        parser.add_argument("--comment", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        decide = approval_grant
        try:
            promotion = decide(
                user=acting_user(options["username"]),
                promotion=promotion_by_id(options["promotion_id"]),
                comment=options["comment"],
            )
        except PromotionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(describe(promotion)))
