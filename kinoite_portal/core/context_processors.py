"""Template context every page needs: what the signed-in user may do, for the navigation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    return {
        "nav": {
            "releases": user.has_perm("releases.view_commit"),
            "compose": user.has_perm("releases.start_compose"),
            "approve": user.has_perm("releases.approve_promotion"),
            "rollout": user.has_perm("fleet.view_rollout"),
            "audit": user.has_perm("core.view_auditevent"),
            "admin": user.is_staff,
        }
    }
