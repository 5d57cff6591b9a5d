"""Import into the database the commits and refs a stage's repo has but the portal does not know."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kinoite_portal.ostree import OstreeError
from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.management.commands._promotion_common import stage_by_name
from kinoite_portal.releases.models import Stage
from kinoite_portal.releases.services.images import image_import
from kinoite_portal.releases.services.repo_import import repo_import


class Command(BaseCommand):
    help = (
        "Import commits and refs that exist in STAGE's repo but not in the database; report refs moved by hand. "
        "For an OCI stage: its repository's tags, each image by digest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("stage", help="Stage name, e.g. dev or prod.")

    def handle(self, *args: Any, **options: Any) -> None:
        stage = stage_by_name(options["stage"])
        try:
            report = image_import(stage=stage) if stage.kind == Stage.Kind.OCI else repo_import(stage=stage)
        except (OstreeError, PromotionError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{stage.name}: imported {report.commits_imported} commits")
        if report.history_recorded:
            self.stdout.write(f"  recorded {report.history_recorded} earlier commits along the refs (now promotable)")
        for ref in report.refs:
            if ref.action == "new":
                self.stdout.write(f"  new ref       {ref.name} -> {ref.new}")
            elif ref.action == "moved":
                self.stdout.write(self.style.WARNING(f"  MOVED outside the portal: {ref.name} {ref.old} -> {ref.new}"))
            elif ref.action == "missing":
                self.stdout.write(self.style.WARNING(f"  missing in repo: {ref.name} (database says {ref.old})"))
            else:
                self.stdout.write(f"  unchanged     {ref.name} {ref.new}")
