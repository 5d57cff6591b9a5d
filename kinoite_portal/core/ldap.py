"""Directory sign-in: django-auth-ldap plus the portal's maps from directory groups to groups and departments."""

from __future__ import annotations

import logging
from typing import Any

import ldap
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.module_loading import import_string
from django_auth_ldap.backend import LDAPBackend, ldap_error

from kinoite_portal.core.audit import audit_record

logger = logging.getLogger("kinoite_portal.ldap")


def _report_directory_error(
    sender: Any, context: str, user: Any, request: Any, exception: Exception, **kwargs: Any
) -> None:
    """Log one clear line when the directory cannot be asked (down, wrong bind DN, TLS), instead of a 500."""
    info = exception.args[0] if exception.args and isinstance(exception.args[0], dict) else {}
    reason = info.get("desc") or type(exception).__name__
    detail = info.get("info", "")
    logger.error(
        "Directory sign-in failed while %s at %s: %s%s. Users fall back to local accounts until this is fixed.",
        context,
        getattr(settings, "AUTH_LDAP_SERVER_URI", ""),
        reason,
        f" ({detail})" if detail else "",
    )


ldap_error.connect(_report_directory_error, dispatch_uid="kinoite_portal.ldap_error")


def directory_sync(*, user: Any, group_dns: set[str]) -> dict[str, list[str]]:
    """Set the user's mapped portal groups and department headships from their directory groups; return changes.

    Only what the maps name is managed: a portal group or department that no map entry targets is left as an
    administrator set it.
    """
    group_map: dict[str, list[str]] = getattr(settings, "PORTAL_LDAP_GROUP_MAP", {})
    department_map: dict[str, list[str]] = getattr(settings, "PORTAL_LDAP_DEPARTMENT_MAP", {})
    dns = {dn.lower() for dn in group_dns}
    managed_groups = {name for targets in group_map.values() for name in targets}
    wanted_groups = {name for dn, targets in group_map.items() if dn.lower() in dns for name in targets}
    managed_departments = {slug for targets in department_map.values() for slug in targets}
    wanted_departments = {slug for dn, targets in department_map.items() if dn.lower() in dns for slug in targets}

    changes: dict[str, list[str]] = {"groups_added": [], "groups_removed": [], "heads_added": [], "heads_removed": []}
    with transaction.atomic():
        current_groups = set(user.groups.filter(name__in=managed_groups).values_list("name", flat=True))
        for group in Group.objects.filter(name__in=wanted_groups - current_groups):
            user.groups.add(group)
            changes["groups_added"].append(group.name)
        for group in Group.objects.filter(name__in=current_groups - wanted_groups):
            user.groups.remove(group)
            changes["groups_removed"].append(group.name)
        # Departments belong to the fleet app, above core: PORTAL_DEPARTMENT_HEADS_SYNC names its function.
        heads_sync = import_string(settings.PORTAL_DEPARTMENT_HEADS_SYNC)
        changes["heads_added"], changes["heads_removed"], missing_departments = heads_sync(
            user=user, wanted=wanted_departments, managed=managed_departments
        )
        if any(changes.values()):
            audit_record(
                action="user.directory_sync",
                actor=user,
                obj=user,
                message=f"Directory groups changed {user.get_username()}'s portal roles.",
                data=changes,
            )
    missing = (wanted_groups - set(Group.objects.filter(name__in=wanted_groups).values_list("name", flat=True))) | set(
        missing_departments
    )
    if missing:
        logger.warning(
            "Directory maps name portal groups or departments that do not exist: %s", ", ".join(sorted(missing))
        )
    return changes


class PortalLDAPBackend(LDAPBackend):  # type: ignore[misc]
    """django-auth-ldap's backend, then the portal's group and department maps after every directory sign-in."""

    def authenticate_ldap_user(self, ldap_user: Any, password: str) -> Any:
        user = super().authenticate_ldap_user(ldap_user, password)
        if user is None:
            return None
        group_dns: set[str] = set()
        if getattr(settings, "AUTH_LDAP_GROUP_SEARCH", None) is not None:
            try:
                group_dns = set(ldap_user.group_dns)
            except ldap.LDAPError as exc:
                # Stale roles could keep rights the directory has taken away: refuse rather than guess.
                _report_directory_error(type(self), "reading group memberships", user, None, exc)
                return None
        directory_sync(user=user, group_dns=group_dns)
        return user
