"""Directory sign-in settings (LDAP / Active Directory), a no-op unless ``AUTH_LDAP_SERVER_URI`` is set.

Everything comes from environment variables (``deploy/portal.env.example`` documents each one). Directory groups
reach the portal only through explicit maps, so a directory with hundreds of groups does not flood the portal:

    AUTH_LDAP_GROUP_MAP="cn=it-release,ou=groups,dc=example,dc=com => release-engineers;
                         cn=it-admins,ou=groups,dc=example,dc=com => approvers, staff, superuser"
    AUTH_LDAP_DEPARTMENT_MAP="cn=finance-heads,ou=groups,dc=example,dc=com => finance"

Entries are separated by ``;`` or new lines, the directory group DN and its targets by ``=>``. Targets of the group
map are portal groups (``release-engineers``, ``approvers``, ``department-heads``) or the flags ``staff`` and
``superuser``; targets of the department map are department slugs. ``kinoite_portal.core.ldap.PortalLDAPBackend``
applies both maps at every sign-in; ``kinoite_portal.core.checks`` reports the mistakes it can see at start-up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

LDAP_BACKEND = "kinoite_portal.core.ldap.PortalLDAPBackend"
FLAG_TARGETS = {"staff": "is_staff", "superuser": "is_superuser"}
GROUP_TYPES = ("groupOfNames", "groupOfUniqueNames", "posixGroup", "activeDirectory", "nestedActiveDirectory")
DEFAULT_GROUP_FILTERS = {
    "groupOfNames": "(objectClass=groupOfNames)",
    "groupOfUniqueNames": "(objectClass=groupOfUniqueNames)",
    "posixGroup": "(objectClass=posixGroup)",
    "activeDirectory": "(objectClass=group)",
    "nestedActiveDirectory": "(objectClass=group)",
}


def _get(environ: Mapping[str, str], name: str, default: str = "") -> str:
    """Return ``name`` from ``environ``, or the contents of the file ``NAME_FILE`` names (for secrets)."""
    file_path = environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path} cannot be read: {exc.strerror}.") from exc
    return environ.get(name, default).strip()


def parse_dn_map(name: str, value: str) -> dict[str, list[str]]:
    """Parse ``DN => target, target; DN => target`` into ``{dn: [targets]}``, with a clear error on bad syntax."""
    result: dict[str, list[str]] = {}
    for raw in value.replace("\n", ";").split(";"):
        entry = raw.strip()
        if not entry:
            continue
        dn, arrow, targets = entry.partition("=>")
        dn = dn.strip()
        names = [t.strip() for t in targets.split(",") if t.strip()]
        if not arrow or not dn or not names:
            raise ImproperlyConfigured(
                f"{name}: entry {entry!r} is not 'DIRECTORY-GROUP-DN => target[, target]' "
                "(entries are separated by ';' or new lines)."
            )
        result.setdefault(dn, []).extend(names)
    return result


def ldap_settings_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Return the Django settings for directory sign-in that ``environ`` asks for ({} when LDAP is off)."""
    uri = _get(environ, "AUTH_LDAP_SERVER_URI")
    if not uri:
        return {}
    try:
        import ldap
        from django_auth_ldap.config import (
            ActiveDirectoryGroupType,
            GroupOfNamesType,
            GroupOfUniqueNamesType,
            LDAPSearch,
            NestedActiveDirectoryGroupType,
            PosixGroupType,
        )
    except ImportError as exc:
        raise ImproperlyConfigured(
            "AUTH_LDAP_SERVER_URI is set but django-auth-ldap is not installed: pip install 'kinoite-portal[ldap]' "
            "(it builds python-ldap, which needs openldap-devel and cyrus-sasl-devel)."
        ) from exc

    timeout = _get(environ, "AUTH_LDAP_TIMEOUT", "5")
    if not timeout.isdigit() or int(timeout) == 0:
        raise ImproperlyConfigured(f"AUTH_LDAP_TIMEOUT must be a whole number of seconds above 0, not {timeout!r}.")
    options: dict[int, Any] = {
        ldap.OPT_NETWORK_TIMEOUT: int(timeout),
        ldap.OPT_TIMEOUT: int(timeout),
        # Active Directory answers searches at the domain root with referrals python-ldap cannot follow.
        ldap.OPT_REFERRALS: 0,
    }
    ca_file = _get(environ, "AUTH_LDAP_CA_CERT_FILE")
    if ca_file:
        options[ldap.OPT_X_TLS_CACERTFILE] = ca_file
        options[ldap.OPT_X_TLS_NEWCTX] = 0  # must come last: applies the TLS options above

    config: dict[str, Any] = {
        "AUTH_LDAP_SERVER_URI": uri,
        "AUTH_LDAP_BIND_DN": _get(environ, "AUTH_LDAP_BIND_DN"),
        "AUTH_LDAP_BIND_PASSWORD": _get(environ, "AUTH_LDAP_BIND_PASSWORD"),
        "AUTH_LDAP_START_TLS": _get(environ, "AUTH_LDAP_START_TLS").lower() in {"1", "true", "yes", "on"},
        "AUTH_LDAP_CONNECTION_OPTIONS": options,
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
        "AUTH_LDAP_USER_ATTR_MAP": {"first_name": "givenName", "last_name": "sn", "email": "mail"},
        # The portal's own maps decide groups (kinoite_portal.core.ldap); django-auth-ldap mirrors nothing.
        "AUTH_LDAP_MIRROR_GROUPS": False,
        "AUTH_LDAP_FIND_GROUP_PERMS": False,
    }
    attrs = _get(environ, "AUTH_LDAP_USER_ATTR_MAP")
    if attrs:
        pairs = [item.partition("=") for item in attrs.split(",") if item.strip()]
        if any(not sep or not field.strip() or not attr.strip() for field, sep, attr in pairs):
            raise ImproperlyConfigured(
                f"AUTH_LDAP_USER_ATTR_MAP must look like 'first_name=givenName,email=mail', not {attrs!r}."
            )
        config["AUTH_LDAP_USER_ATTR_MAP"] = {field.strip(): attr.strip() for field, _, attr in pairs}

    dn_template = _get(environ, "AUTH_LDAP_USER_DN_TEMPLATE")
    user_base = _get(environ, "AUTH_LDAP_USER_SEARCH_BASE")
    if dn_template:
        config["AUTH_LDAP_USER_DN_TEMPLATE"] = dn_template
    if user_base:
        user_filter = _get(environ, "AUTH_LDAP_USER_SEARCH_FILTER", "(uid=%(user)s)")
        config["AUTH_LDAP_USER_SEARCH"] = LDAPSearch(user_base, ldap.SCOPE_SUBTREE, user_filter)

    group_type_name = _get(environ, "AUTH_LDAP_GROUP_TYPE", "groupOfNames")
    group_types: dict[str, Any] = {
        "groupOfNames": GroupOfNamesType,
        "groupOfUniqueNames": GroupOfUniqueNamesType,
        "posixGroup": PosixGroupType,
        "activeDirectory": ActiveDirectoryGroupType,
        "nestedActiveDirectory": NestedActiveDirectoryGroupType,
    }
    if group_type_name not in group_types:
        raise ImproperlyConfigured(f"AUTH_LDAP_GROUP_TYPE={group_type_name!r} is not one of {', '.join(GROUP_TYPES)}.")
    group_base = _get(environ, "AUTH_LDAP_GROUP_SEARCH_BASE")
    if group_base:
        group_filter = _get(environ, "AUTH_LDAP_GROUP_SEARCH_FILTER", DEFAULT_GROUP_FILTERS[group_type_name])
        config["AUTH_LDAP_GROUP_SEARCH"] = LDAPSearch(group_base, ldap.SCOPE_SUBTREE, group_filter)
        config["AUTH_LDAP_GROUP_TYPE"] = group_types[group_type_name](name_attr="cn")
    require_group = _get(environ, "AUTH_LDAP_REQUIRE_GROUP")
    if require_group:
        config["AUTH_LDAP_REQUIRE_GROUP"] = require_group

    group_map = parse_dn_map("AUTH_LDAP_GROUP_MAP", _get(environ, "AUTH_LDAP_GROUP_MAP"))
    department_map = parse_dn_map("AUTH_LDAP_DEPARTMENT_MAP", _get(environ, "AUTH_LDAP_DEPARTMENT_MAP"))
    config["PORTAL_LDAP_GROUP_MAP"] = {dn: [t for t in ts if t not in FLAG_TARGETS] for dn, ts in group_map.items()}
    config["PORTAL_LDAP_DEPARTMENT_MAP"] = department_map
    flags: dict[str, list[str]] = {}
    for dn, targets in group_map.items():
        for target in targets:
            if target in FLAG_TARGETS:
                flags.setdefault(FLAG_TARGETS[target], []).append(dn)
    # A list of DNs means "member of any of them"; a flag no entry names is left alone.
    config["AUTH_LDAP_USER_FLAGS_BY_GROUP"] = flags
    # Directory first, then local accounts (the first admin, service accounts) keep working.
    config["AUTHENTICATION_BACKENDS"] = [LDAP_BACKEND, "django.contrib.auth.backends.ModelBackend"]
    return config


# Applied to the settings module that star-imports this one.
_config = ldap_settings_from_env(os.environ)
globals().update(_config)
AUTH_LDAP_SERVER_URI: str = _config.get("AUTH_LDAP_SERVER_URI", "")
PORTAL_LDAP_GROUP_MAP: dict[str, list[str]] = _config.get("PORTAL_LDAP_GROUP_MAP", {})
PORTAL_LDAP_DEPARTMENT_MAP: dict[str, list[str]] = _config.get("PORTAL_LDAP_DEPARTMENT_MAP", {})
# Only settings leave this module through ``from kinoite_portal.ldap_settings import *``.
__all__ = sorted({*_config, "AUTH_LDAP_SERVER_URI", "PORTAL_LDAP_GROUP_MAP", "PORTAL_LDAP_DEPARTMENT_MAP"})
