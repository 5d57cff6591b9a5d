from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from kinoite_portal.releases.models import Promotion


class Command(BaseCommand):
    help = "List promotions and rollbacks, newest first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--open", action="store_true", help="Only requests that are not finished.")
        parser.add_argument("--limit", type=int, default=20)

    def handle(self, *args: Any, **options: Any) -> None:
        promotions = Promotion.objects.select_related("commit", "target_stage", "requested_by").defer("log")
        if options["open"]:
            promotions = promotions.filter(state__in=Promotion.OPEN_STATES)
        rows = list(promotions[: options["limit"]])
        if not rows:
            self.stdout.write("No promotions.")
        for p in rows:
            self.stdout.write(
                f"#{p.pk:<5} {p.kind:<9} {p.state:<10} {p.commit.version or '-':<18} {p.commit.checksum[:12]} "
                f"-> {p.target_stage.name}:{p.target_ref}  by {p.requested_by}"
            )
