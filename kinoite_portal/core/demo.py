"""Demo users, one per role, with passwords kept under var/ so every run can print them."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User

from kinoite_portal.core import roles

DEMO_USERS = [
    ("admin", "administrator: users, stages, treefiles, keys", None),
    ("engineer", "release engineer: composes, requests promotions", roles.RELEASE_ENGINEERS),
    ("approver", "approver: approves or rejects promotions", roles.APPROVERS),
    ("approver2", "second approver, for expedited promotions", roles.APPROVERS),
    ("head", "department head of Finance: rollout status only", roles.DEPARTMENT_HEADS),
]


def credentials_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.txt"


def seed_users() -> list[tuple[str, str, str]]:
    """Create the demo users once; return (username, password, role) for each."""
    stored: dict[str, str] = {}
    path = credentials_file()
    if path.exists():
        stored = dict(line.split(" ", 1) for line in path.read_text().splitlines() if " " in line)
    result = []
    for username, role, group in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        password = stored.get(username)
        if user is None or password is None:
            password = secrets.token_urlsafe(9)
            user = user or User(username=username, email=f"{username}@example.com")
            user.set_password(password)
            user.is_staff = group in (None, roles.RELEASE_ENGINEERS)
            user.is_superuser = group is None
            user.save()
            if group:
                user.groups.add(Group.objects.get(name=group))
            stored[username] = password
        result.append((username, password, role))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{name} {password}\n" for name, password in stored.items()))
    path.chmod(0o600)
    return result
