from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kinoite_portal.releases.management.commands._promotion_common import stage_by_name
from kinoite_portal.rollouts.selectors import rings_with_members
from kinoite_portal.rollouts.services.rings import rings_create_defaults
from kinoite_portal.rollouts.services.rollouts import RolloutError


class Command(BaseCommand):
    help = "List every stage's rings in order, or give a stage the default rings (pilot, early, broad)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--create-defaults", metavar="STAGE", help="Give STAGE the rings pilot -> early -> broad.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["create_defaults"]:
            stage = stage_by_name(options["create_defaults"])
            try:
                rings = rings_create_defaults(stage=stage)
            except RolloutError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(self.style.SUCCESS(f"{stage.name}: " + " -> ".join(ring.name for ring in rings)))
        rings = list(rings_with_members())
        if not rings:
            self.stdout.write("No rings: every stage publishes to all its desktops at once.")
        for ring in rings:
            members = [d.slug for d in ring.departments.all()] + [h.hostname for h in ring.hosts.all()]
            self.stdout.write(
                f"{ring.stage.name} {ring.order} {ring.name}: soak {ring.soak_time}, success >= "
                f"{ring.success_threshold} %, halt at {ring.failure_threshold} % failed, "
                f"timeout {ring.update_timeout}, "
                f"{'auto-advance' if ring.auto_advance else 'approver advances'}; "
                f"members: {', '.join(members) or '(none: hosts in no ring are in the last ring)'}"
            )
