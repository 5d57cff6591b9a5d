"""Department headships set from the directory (called by the directory sign-in through a setting)."""

from __future__ import annotations

from typing import Any

from kinoite_portal.fleet.models import Department


def department_heads_sync(*, user: Any, wanted: set[str], managed: set[str]) -> tuple[list[str], list[str], list[str]]:
    """Make ``user`` head exactly the ``wanted`` departments among the ``managed`` ones (slugs).

    Return the slugs added, removed, and wanted but missing (no such department).
    """
    added: list[str] = []
    removed: list[str] = []
    headed = set(user.headed_departments.filter(slug__in=managed).values_list("slug", flat=True))
    for department in Department.objects.filter(slug__in=wanted - headed):
        department.heads.add(user)
        added.append(department.slug)
    for department in Department.objects.filter(slug__in=headed - wanted):
        department.heads.remove(user)
        removed.append(department.slug)
    missing = wanted - set(Department.objects.filter(slug__in=wanted).values_list("slug", flat=True))
    return added, removed, sorted(missing)
