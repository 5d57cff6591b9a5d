from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.management.commands._promotion_common import acting_user, describe
from kinoite_portal.releases.models import Treefile
from kinoite_portal.releases.services.promotions import promotion_request


class Command(BaseCommand):
    help = "Request the promotion of a dev commit (by full checksum) to the next stage; approvers still decide."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("checksum", help="Full 64-hex commit checksum in dev.")
        parser.add_argument("--as", dest="username", required=True, help="Portal user who requests it.")
        parser.add_argument("--comment", default="")
        parser.add_argument("--expedite", metavar="REASON", default="", help="Expedite, with this written reason.")
        parser.add_argument(
            "--treefile",
            metavar="NAME",
            default="",
            help="The treefile the commit belongs to, when its refs do not say (or name several).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        treefile = None
        if options["treefile"]:
            treefile = Treefile.objects.filter(name=options["treefile"]).first()
            if treefile is None:
                names = ", ".join(Treefile.objects.order_by("name").values_list("name", flat=True)) or "none"
                raise CommandError(f"no treefile {options['treefile']!r} (treefiles: {names}); nothing was requested")
        try:
            promotion = promotion_request(
                user=acting_user(options["username"]),
                checksum=options["checksum"],
                treefile=treefile,
                comment=options["comment"],
                expedited=bool(options["expedite"]),
                expedite_reason=options["expedite"],
                via="command",
            )
        except PromotionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(describe(promotion)))
