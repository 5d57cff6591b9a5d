"""Reads for the rollout pages. Department heads only ever get their own departments."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from kinoite_portal.fleet.models import Department


def visible_departments(user: Any) -> QuerySet[Department]:
    """Return the departments ``user`` may see: all for IT staff, their own for department heads."""
    if user.has_perm("fleet.view_all_departments"):
        return Department.objects.all()
    if user.has_perm("fleet.view_rollout"):
        return Department.objects.filter(heads=user)
    return Department.objects.none()


def department_host_counts(user: Any) -> QuerySet[Department]:
    """Return the visible departments with their number of hosts."""
    return visible_departments(user).annotate(host_count=Count("hosts"))
