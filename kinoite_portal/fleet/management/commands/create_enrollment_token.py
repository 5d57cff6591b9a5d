"""Create an enrollment token for a department and print it once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from kinoite_portal.fleet.models import Department
from kinoite_portal.fleet.services.enrollment import enrollment_token_create


class Command(BaseCommand):
    help = "Create a token that desktops of DEPARTMENT exchange for host tokens; the token is printed once."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("department", help="The department's slug, e.g. finance.")
        parser.add_argument("--uses", type=int, default=1, help="How many desktops may enroll with it (default 1).")
        parser.add_argument("--days", type=int, default=7, help="Days until it expires (default 7).")
        parser.add_argument("--name", default="", help="A note on what it is for.")

    def handle(self, *args: Any, **options: Any) -> None:
        department = Department.objects.filter(slug=options["department"]).first()
        if department is None:
            slugs = ", ".join(Department.objects.values_list("slug", flat=True)) or "none yet"
            raise CommandError(f"No department {options['department']!r} (known: {slugs}).")
        if options["days"] < 1:
            raise CommandError("--days must be at least 1.")
        try:
            created = enrollment_token_create(
                department=department,
                name=options["name"],
                expires_at=timezone.now() + timedelta(days=options["days"]),
                max_uses=options["uses"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(
            f"Enrollment token {created.token.prefix}… for {department}: {options['uses']} use(s), "
            f"expires {created.token.expires_at:%Y-%m-%d %H:%M} UTC (shown only now):"
        )
        self.stdout.write(created.raw)
