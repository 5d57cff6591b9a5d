"""Create demo data for a first run; safe to run again.

It lives in fleet, the highest app whose demo data it seeds, since seeding calls every app below it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from kinoite_portal.core.demo import seed_users
from kinoite_portal.fleet.demo import seed_departments, seed_hosts
from kinoite_portal.fleet.services.adoption import adoption_sample_take
from kinoite_portal.releases.demo import seed_stages, seed_treefile
from kinoite_portal.releases.demo_composes import seed_composes
from kinoite_portal.releases.demo_promotions import seed_promotions


class Command(BaseCommand):
    help = "Create the demo stages, repos, treefile, departments and one user per role (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        users = seed_users()
        self.stdout.write("Stages and repos…")
        for stage in seed_stages():
            self.stdout.write(f"  {stage.name}: {stage.repo_dir}")
        self.stdout.write(f"Treefile: {seed_treefile().name}")
        for compose in seed_composes():
            self.stdout.write(
                f"  compose #{compose.pk}: {compose.state} {compose.commit.version if compose.commit else ''}"
            )
        for promotion in seed_promotions():
            self.stdout.write(f"  promotion #{promotion.pk}: {promotion.state} {promotion.commit.version}")
        self.stdout.write("Departments: " + ", ".join(d.name for d in seed_departments()))
        self.stdout.write(f"Desktops: {seed_hosts()}")
        adoption_sample_take()
        self.stdout.write(self.style.SUCCESS("Demo sign-ins:"))
        for username, password, role in users:
            self.stdout.write(f"  {username:<10} {password:<14} {role}")
