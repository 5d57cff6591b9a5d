"""Demo departments; the department head runs Finance."""

from __future__ import annotations

from django.contrib.auth.models import User

from kinoite_portal.fleet.models import Department

DEMO_DEPARTMENTS = [("Engineering", "engineering"), ("Finance", "finance"), ("Sales", "sales")]


def seed_departments() -> list[Department]:
    """Create the demo departments and make the demo head the head of Finance."""
    departments = [Department.objects.get_or_create(slug=slug, defaults={"name": name})[0] for name, slug in DEMO_DEPARTMENTS]
    head = User.objects.filter(username="head").first()
    if head is not None:
        Department.objects.get(slug="finance").heads.add(head)
    return departments
