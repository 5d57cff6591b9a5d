"""Template context for every page from the releases app: how many requests wait for the approver's vote."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from kinoite_portal.releases import selectors


def review_queue(request: HttpRequest) -> dict[str, Any]:
    """Give approvers ``review_count``: one COUNT query, run only if the page shows it, at most once per request."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.has_perm("releases.approve_promotion"):
        return {}
    return {"review_count": SimpleLazyObject(lambda: selectors.promotions_needing_review(user).count())}
