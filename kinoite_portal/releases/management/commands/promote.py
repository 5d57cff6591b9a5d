from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.management.commands._promotion_common import acting_user, describe
from kinoite_portal.releases.services.promotions import promotion_request


class Command(BaseCommand):
    help = "Request the promotion of a dev commit (by full checksum) to the next stage; approvers still decide."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("checksum", help="Full 64-hex commit checksum in dev.")
        parser.add_argument("--as", dest="username", required=True, help="Portal user who requests it.")
        parser.add_argument("--comment", default="")
        parser.add_argument("--expedite", metavar="REASON", default="", help="Expedite, with this written reason.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            promotion = promotion_request(
                user=acting_user(options["username"]),
                checksum=options["checksum"],
                comment=options["comment"],
                expedited=bool(options["expedite"]),
                expedite_reason=options["expedite"],
                via="command",
            )
        except PromotionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(describe(promotion)))
