"""Start-up checks for a deployment: repos the web server cannot read, TLS files that are missing, LDAP mistakes.

They run with every ``manage.py`` command, in ``ExecStartPre=`` of the systemd units and in gunicorn's
``on_starting`` hook (deploy/gunicorn.conf.py), so a broken configuration stops the start instead of giving a
half-working server.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from kinoite_portal.core import roles

# Tried in this order when PORTAL_WEBSERVER_USER is not set: RHEL's Apache, nginx, Debian's Apache.
WEBSERVER_USERS = ("apache", "nginx", "www-data")
PORTAL_GROUP_TARGETS = {roles.RELEASE_ENGINEERS, roles.APPROVERS, roles.DEPARTMENT_HEADS, "staff", "superuser"}
_SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+$")


def webserver_user() -> pwd.struct_passwd | None:
    """Return the account the web server reads repos as, or None when none is known on this machine."""
    names = [settings.PORTAL_WEBSERVER_USER] if settings.PORTAL_WEBSERVER_USER else list(WEBSERVER_USERS)
    for name in names:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


def _user_gids(account: pwd.struct_passwd) -> set[int]:
    return {account.pw_gid} | {g.gr_gid for g in grp.getgrall() if account.pw_name in g.gr_mem}


def _allowed(path: Path, account: pwd.struct_passwd, gids: set[int], want: int) -> bool:
    """Return True if ``account`` has the ``want`` bits (4 read, 1 search) on ``path`` by its mode bits.

    Mode bits, not os.access: the portal may run as root or as another user, and root passes every access().
    """
    st = path.stat()
    if account.pw_uid == 0:
        return True
    if st.st_uid == account.pw_uid:
        bits = (st.st_mode >> 6) & 7
    elif st.st_gid in gids:
        bits = (st.st_mode >> 3) & 7
    else:
        bits = st.st_mode & 7
    return bits & want == want


def _unreadable(paths: Iterable[tuple[Path, int]], account: pwd.struct_passwd) -> tuple[Path, int] | None:
    gids = _user_gids(account)
    for path, want in paths:
        if path.exists() and not _allowed(path, account, gids, want):
            return path, want
    return None


def _repo_paths(root: Path) -> list[tuple[Path, int]]:
    """Return what the web server must be able to open to serve every repo under ``root``, with the bits needed."""
    paths: list[tuple[Path, int]] = [(parent, 1) for parent in reversed(root.parents)]
    paths.append((root, 5))
    for repo in sorted(p for p in root.iterdir() if p.is_dir() and (p / "config").is_file()):
        paths += [(repo, 5), (repo / "config", 4), (repo / "summary", 4), (repo / "summary.sig", 4)]
        paths += [(repo / name, 5) for name in ("objects", "deltas", "delta-indexes", "refs")]
    return paths


def _selinux_type(path: Path) -> str | None:
    try:
        label = os.getxattr(path, "security.selinux").decode().rstrip("\0")
    except OSError:
        return None
    parts = label.split(":")
    return parts[2] if len(parts) >= 3 else None


@register()
def check_repo_root_readable(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a repo folder the web server in front of the portal cannot read."""
    if settings.PORTAL_SERVE_FILES:
        return []  # the portal serves repos itself (first run): it can read what it writes
    messages: list[CheckMessage] = []
    account = webserver_user()
    if account is None:
        if settings.PORTAL_WEBSERVER_USER:
            messages.append(
                Error(
                    f"PORTAL_WEBSERVER_USER={settings.PORTAL_WEBSERVER_USER!r} is not an account on this machine.",
                    hint="Set it to the user Apache or nginx runs as (apache, nginx or www-data).",
                    id="kinoite_portal.E002",
                )
            )
        return messages
    root = Path(settings.PORTAL_REPO_ROOT)
    if not root.is_dir():
        return messages  # not the repo host, or the repos do not exist yet
    problem = _unreadable(_repo_paths(root), account)
    if problem is not None:
        path, want = problem
        st = path.stat()
        need = "read and enter" if want == 5 else ("read" if want == 4 else "enter")
        messages.append(
            Error(
                f"The web server user {account.pw_name!r} cannot {need} {path} "
                f"(mode {stat.filemode(st.st_mode)}, owner uid {st.st_uid}, group gid {st.st_gid}), "
                f"so clients cannot pull from the repos under PORTAL_REPO_ROOT={root}.",
                hint=f"Give it read access, e.g. `chmod o+{'rx' if want & 1 else 'r'} {path}` or "
                f"`setfacl -m u:{account.pw_name}:{'rx' if want & 1 else 'r'} {path}`; keep it read-only "
                "(deploy/README.md, 'Folders').",
                id="kinoite_portal.E001",
            )
        )
    elif Path("/sys/fs/selinux/enforce").exists():
        label = _selinux_type(root)
        if label is not None and label != "httpd_sys_content_t":
            messages.append(
                Warning(
                    f"PORTAL_REPO_ROOT={root} has the SELinux type {label}, not httpd_sys_content_t: "
                    "the web server will be denied reading it.",
                    hint="Run deploy/selinux/setup-selinux.sh (semanage fcontext + restorecon).",
                    id="kinoite_portal.W003",
                )
            )
    return messages


@register()
def check_tls_files(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Refuse TLS certificate or key paths that are given in the settings but do not exist."""
    cert, key = settings.PORTAL_TLS_CERT, settings.PORTAL_TLS_KEY
    messages: list[CheckMessage] = []
    if bool(cert) != bool(key):
        missing = "PORTAL_TLS_KEY" if cert else "PORTAL_TLS_CERT"
        messages.append(
            Error(
                f"{missing} is not set, but {'PORTAL_TLS_CERT' if cert else 'PORTAL_TLS_KEY'} is: set both or neither.",
                id="kinoite_portal.E010",
            )
        )
    if cert:
        cert_path = Path(cert)
        if not cert_path.is_file():
            messages.append(
                Error(
                    f"PORTAL_TLS_CERT={cert} does not exist: the web server would not start with it.",
                    hint="Point it at the PEM certificate the web server uses (deploy/README.md, 'TLS').",
                    id="kinoite_portal.E011",
                )
            )
        elif os.access(cert_path, os.R_OK) and b"-----BEGIN CERTIFICATE-----" not in cert_path.read_bytes()[:65536]:
            messages.append(
                Error(
                    f"PORTAL_TLS_CERT={cert} is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' line).",
                    id="kinoite_portal.E012",
                )
            )
    if key and not Path(key).exists():
        # Only existence: the key is usually root-only and read by the web server before it drops privileges.
        messages.append(
            Error(
                f"PORTAL_TLS_KEY={key} does not exist: the web server would not start with it.",
                hint="Point it at the certificate's private key (deploy/README.md, 'TLS').",
                id="kinoite_portal.E013",
            )
        )
    return messages


@register()
def check_ldap(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a directory sign-in configuration that cannot work."""
    uri = getattr(settings, "AUTH_LDAP_SERVER_URI", "")
    if not uri:
        return []
    import ldap.dn

    messages: list[CheckMessage] = []

    def error(number: int, msg: str, hint: str | None = None) -> None:
        messages.append(Error(msg, hint=hint, id=f"kinoite_portal.E{number:03d}"))

    for part in uri.split():
        if not part.startswith(("ldap://", "ldaps://", "ldapi://")):
            error(22, f"AUTH_LDAP_SERVER_URI={uri!r}: {part!r} is not an ldap://, ldaps:// or ldapi:// URL.")
    template = getattr(settings, "AUTH_LDAP_USER_DN_TEMPLATE", None)
    search = getattr(settings, "AUTH_LDAP_USER_SEARCH", None)
    if not template and search is None:
        error(
            23,
            "AUTH_LDAP_SERVER_URI is set, but neither AUTH_LDAP_USER_DN_TEMPLATE nor AUTH_LDAP_USER_SEARCH_BASE is: "
            "the portal cannot find a user in the directory.",
            hint="Active Directory: AUTH_LDAP_USER_SEARCH_BASE=cn=Users,dc=example,dc=com and "
            "AUTH_LDAP_USER_SEARCH_FILTER=(sAMAccountName=%(user)s).",
        )
    if template and "%(user)s" not in template:
        error(24, f"AUTH_LDAP_USER_DN_TEMPLATE={template!r} has no %(user)s placeholder.")
    if search is not None:
        if "%(user)s" not in search.filterstr:
            error(25, f"AUTH_LDAP_USER_SEARCH_FILTER={search.filterstr!r} has no %(user)s placeholder.")
        if not ldap.dn.is_dn(search.base_dn):
            error(26, f"AUTH_LDAP_USER_SEARCH_BASE={search.base_dn!r} is not a distinguished name.")
        if not getattr(settings, "AUTH_LDAP_BIND_DN", "") and not template:
            messages.append(
                Warning(
                    "AUTH_LDAP_USER_SEARCH_BASE is set without AUTH_LDAP_BIND_DN: the search runs anonymously, "
                    "which Active Directory refuses.",
                    id="kinoite_portal.W040",
                )
            )
    if getattr(settings, "AUTH_LDAP_BIND_DN", "") and not getattr(settings, "AUTH_LDAP_BIND_PASSWORD", ""):
        error(27, "AUTH_LDAP_BIND_DN is set but AUTH_LDAP_BIND_PASSWORD (or AUTH_LDAP_BIND_PASSWORD_FILE) is empty.")
    group_map: dict[str, list[str]] = getattr(settings, "PORTAL_LDAP_GROUP_MAP", {})
    department_map: dict[str, list[str]] = getattr(settings, "PORTAL_LDAP_DEPARTMENT_MAP", {})
    flags: dict[str, list[str]] = getattr(settings, "AUTH_LDAP_USER_FLAGS_BY_GROUP", {})
    if (group_map or department_map or flags) and getattr(settings, "AUTH_LDAP_GROUP_SEARCH", None) is None:
        error(
            28,
            "AUTH_LDAP_GROUP_MAP or AUTH_LDAP_DEPARTMENT_MAP is set but AUTH_LDAP_GROUP_SEARCH_BASE is not: "
            "the portal cannot read anyone's directory groups.",
        )
    for name, mapping in (("AUTH_LDAP_GROUP_MAP", group_map), ("AUTH_LDAP_DEPARTMENT_MAP", department_map)):
        for dn, targets in mapping.items():
            if not ldap.dn.is_dn(dn):
                error(29, f"{name}: {dn!r} is not a distinguished name.")
            for target in targets:
                if name == "AUTH_LDAP_GROUP_MAP" and target not in PORTAL_GROUP_TARGETS:
                    error(
                        30,
                        f"{name}: {dn!r} maps to {target!r}, which is not a portal group or flag.",
                        hint=f"Use one of: {', '.join(sorted(PORTAL_GROUP_TARGETS))}.",
                    )
                if name == "AUTH_LDAP_DEPARTMENT_MAP" and not _SLUG_RE.fullmatch(target):
                    error(31, f"{name}: {dn!r} maps to {target!r}, which is not a department slug.")
    options = getattr(settings, "AUTH_LDAP_CONNECTION_OPTIONS", {})
    ca_file = options.get(ldap.OPT_X_TLS_CACERTFILE)
    if ca_file and not Path(ca_file).is_file():
        error(32, f"AUTH_LDAP_CA_CERT_FILE={ca_file} does not exist.")
    return messages
