"""Prune a stage's repo to its retention depth, keeping commits desktops and open promotions need."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kinoite_portal.ostree import LockTimeout, OstreeError
from kinoite_portal.releases.errors import RetentionError
from kinoite_portal.releases.management.commands._promotion_common import stage_by_name
from kinoite_portal.releases.services.retention import LOCK_TIMEOUT, repo_prune


class Command(BaseCommand):
    help = (
        "Prune STAGE's repo with `ostree prune --refs-only --depth=<the stage's retention depth>`, keeping every "
        "commit a desktop boots or an open promotion names; then a (signed) summary and fsck."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("stage", help="Stage name, e.g. dev or prod.")
        parser.add_argument("--dry-run", action="store_true", help="Report what would be deleted; delete nothing.")
        parser.add_argument(
            "--lock-timeout",
            type=float,
            default=LOCK_TIMEOUT,
            help="Seconds to wait while another job writes the repo.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stage = stage_by_name(options["stage"])
        try:
            report = repo_prune(
                stage=stage,
                dry_run=options["dry_run"],
                progress=lambda line: self.stdout.write(line),
                lock_timeout=options["lock_timeout"],
            )
        except LockTimeout as exc:
            raise CommandError(f"the {stage.name} repo is busy (another job holds it): {exc}") from exc
        except (RetentionError, OstreeError) as exc:
            raise CommandError(str(exc)) from exc
        if report.skipped:
            self.stdout.write(self.style.WARNING(f"Nothing pruned: {report.skipped}. Set it in the admin."))
            return
        if report.fsck_ok is False:
            raise CommandError(f"fsck of the {stage.name} repo failed after pruning:\n{report.fsck_output}")
        verb = "Would delete" if report.dry_run else "Deleted"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {report.deleted_objects} of {report.total_objects} objects in {stage.name}; "
                f"{len(report.protected)} protected commit(s) kept"
            )
        )
