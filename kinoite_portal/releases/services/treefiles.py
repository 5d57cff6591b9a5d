"""Saving treefiles; every save keeps a revision."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max

from kinoite_portal.releases.models import Treefile, TreefileRevision


@transaction.atomic
def treefile_save(
    *,
    name: str,
    content: dict[str, Any],
    published_ref: str,
    description: str = "",
    schedule: str = "",
    author: Any = None,
    comment: str = "",
) -> Treefile:
    """Create or update a treefile and record the new revision."""
    treefile, _ = Treefile.objects.select_for_update().update_or_create(
        name=name,
        defaults={"content": content, "published_ref": published_ref, "description": description, "schedule": schedule},
    )
    last = treefile.revisions.aggregate(last=Max("number"))["last"] or 0
    TreefileRevision.objects.create(
        treefile=treefile, number=last + 1, content=content, published_ref=published_ref, author=author, comment=comment
    )
    return treefile
