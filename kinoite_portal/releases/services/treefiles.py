"""Saving treefiles; every save that changes what a compose would build keeps a revision."""

from __future__ import annotations

import difflib
import json
from typing import Any

from django.db import transaction
from django.db.models import Max

from kinoite_portal.core.audit import audit_record
from kinoite_portal.releases.models import Treefile, TreefileRevision
from kinoite_portal.releases.treefile_schema import TreefileInvalid, validate_treefile_settings

__all__ = ["TreefileInvalid", "revision_diff", "treefile_save"]


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
    enabled: bool | None = None,
    kind: str | None = None,
) -> Treefile:
    """Validate, then create or update a treefile and record a new revision.

    ``kind`` is ``treefile`` (the default for a new one) or ``containerfile``; it is fixed once saved. Raises
    TreefileInvalid (nothing saved) when the JSON, a key, a ref, the kind or the schedule is wrong. A save that leaves
    the content and the published ref as they were (only description, schedule or enabled changed) adds no revision.
    """
    existing = Treefile.objects.filter(name=name).first()
    if kind is None:
        kind = existing.kind if existing is not None else Treefile.Kind.TREEFILE
    if existing is not None and existing.kind != kind:
        # Its composes, commits and promotions were made for the other kind; a new name starts a clean history.
        raise TreefileInvalid(
            {
                "kind": [
                    f"treefile {name} is a {existing.get_kind_display()}; the kind is fixed once saved "
                    f"(save the {Treefile.Kind(kind).label if kind in Treefile.Kind.values else kind} under a new name)"
                ]
            }
        )
    content = validate_treefile_settings(
        name=name, content=content, published_ref=published_ref, schedule=schedule, kind=kind
    )
    defaults: dict[str, Any] = {
        "kind": kind,
        "content": content,
        "published_ref": published_ref,
        "description": description,
        "schedule": schedule.strip(),
    }
    if enabled is not None:
        defaults["enabled"] = enabled
    Treefile.objects.get_or_create(name=name, defaults=defaults)
    treefile = Treefile.objects.select_for_update().get(name=name)
    for field, value in defaults.items():
        setattr(treefile, field, value)
    treefile.save()
    last = treefile.revisions.order_by("-number").first()
    if last is None or last.content != content or last.published_ref != published_ref:
        number = (treefile.revisions.aggregate(last=Max("number"))["last"] or 0) + 1
        revision = TreefileRevision.objects.create(
            treefile=treefile,
            number=number,
            content=content,
            published_ref=published_ref,
            author=author,
            comment=comment[:200],
        )
        audit_record(
            action="treefile.save",
            actor=author,
            obj=treefile,
            message=f"Saved treefile {name} revision {revision.number}" + (f": {comment}" if comment else ""),
            data={"revision": revision.number},
        )
    return treefile


def _revision_lines(revision: TreefileRevision) -> list[str]:
    content = dict(revision.content)
    containerfile = content.pop("containerfile", None) if revision.treefile.is_containerfile else None
    text = json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False)
    lines = [f"published_ref: {revision.published_ref}"]
    if isinstance(containerfile, str):
        # Line by line, so a changed RUN line shows as that line, not as one changed JSON string.
        lines += ["Containerfile:", *(f"  {line}" for line in containerfile.splitlines())]
    return [*lines, *text.splitlines()]


def revision_diff(*, old: TreefileRevision | None, new: TreefileRevision) -> list[str]:
    """Return a unified diff (one string per line) between two revisions; ``old=None`` diffs against nothing."""
    before = _revision_lines(old) if old is not None else []
    label_old = f"{new.treefile.name} r{old.number}" if old is not None else "(nothing)"
    return list(
        difflib.unified_diff(
            before, _revision_lines(new), fromfile=label_old, tofile=f"{new.treefile.name} r{new.number}", lineterm=""
        )
    )
