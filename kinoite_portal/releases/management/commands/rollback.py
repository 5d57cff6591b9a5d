from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.management.commands._promotion_common import acting_user, describe
from kinoite_portal.releases.services.rollbacks import rollback_request


class Command(BaseCommand):
    help = "Request a rollback of prod to the tree of an earlier prod commit (a new forward commit; needs approval)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("checksum", help="Full checksum of the earlier prod commit to restore.")
        parser.add_argument("--as", dest="username", required=True)
        parser.add_argument("--comment", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            promotion = rollback_request(
                user=acting_user(options["username"]),
                checksum=options["checksum"],
                comment=options["comment"],
                via="command",
            )
        except PromotionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(describe(promotion)))
