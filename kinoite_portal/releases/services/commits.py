"""Recording commits and ref moves in the database, as the repos hold them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from kinoite_portal.ostree import Repo
from kinoite_portal.releases.models import Commit, Compose, Promotion, Ref, RefUpdate, Stage
from kinoite_portal.releases.selectors import COMMIT_HEAVY_FIELDS
from kinoite_portal.releases.services.diffs import tree_diffs_after_ref_move


def _jsonable(value: Any) -> Any:
    """Return metadata parsed from GVariant text in a form JSONField stores (tuples become lists, bytes hex)."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def commit_import(*, repo: Repo, checksum: str, **extra: Any) -> Commit:
    """Return the database row for ``checksum``, reading the commit from ``repo`` the first time it is seen.

    A row already there comes without its package list and metadata (loaded if read): a promotion run looks up two
    commits this way, and decoding a Kinoite-sized package list from JSON twice over costs more than its own steps.
    """
    existing = Commit.objects.filter(checksum=checksum).defer(*COMMIT_HEAVY_FIELDS).first()
    if existing is not None:
        return existing
    info = repo.read_commit(checksum)
    packages = sorted(
        ([p.name, p.epoch, p.version, p.release, p.arch] for p in info.packages), key=lambda p: (p[0], p[4])
    )
    commit, _ = Commit.objects.get_or_create(
        checksum=info.checksum,
        defaults={
            "content_checksum": info.content_checksum,
            "parent_checksum": info.parent or "",
            "version": info.version or "",
            "timestamp": info.timestamp,
            "subject": info.subject[:500],
            "body": info.body,
            "input_hash": info.input_hash or "",
            "ref_binding": list(info.ref_binding) if info.ref_binding is not None else None,
            "packages": packages,
            "package_count": len(packages),
            "metadata": _jsonable(info.metadata),
            **extra,
        },
    )
    return commit


@transaction.atomic
def ref_move(
    *,
    stage: Stage,
    ref_name: str,
    commit: Commit,
    source: str,
    compose: Compose | None = None,
    promotion: Promotion | None = None,
    moved_at: datetime | None = None,
) -> RefUpdate:
    """Record that ``ref_name`` in ``stage`` now points at ``commit``; recording the same move twice is a no-op."""
    Ref.objects.get_or_create(stage=stage, name=ref_name)
    ref = Ref.objects.select_for_update().get(stage=stage, name=ref_name)
    if ref.head_id == commit.pk:
        latest = ref.updates.order_by("-moved_at", "-id").first()
        if latest is not None:
            return latest
    update = RefUpdate.objects.create(
        ref=ref,
        commit=commit,
        previous_commit_id=ref.head_id,
        moved_at=moved_at or timezone.now(),
        source=source,
        compose=compose,
        promotion=promotion,
    )
    ref.head = commit
    ref.save(update_fields=["head", "updated_at"])
    transaction.on_commit(lambda: tree_diffs_after_ref_move(update_id=update.pk), robust=True)
    return update
