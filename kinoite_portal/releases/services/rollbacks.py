"""Rollbacks, through the same approval: an ostree stage re-publishes an earlier tree as a forward commit, an OCI
stage re-tags an earlier approved digest (the stage kind decides: ``releases.stage_kinds``)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from kinoite_portal.core.audit import audit_record
from kinoite_portal.ostree import validate_checksum
from kinoite_portal.ostree.errors import InvalidChecksum
from kinoite_portal.releases import notifications, selectors
from kinoite_portal.releases.errors import PromotionConflict, PromotionError
from kinoite_portal.releases.models import Commit, Promotion, Ref, RefUpdate, Stage
from kinoite_portal.releases.services.approvals import policy_refresh
from kinoite_portal.releases.services.diffs import tree_diffs_for_request
from kinoite_portal.releases.stage_kinds import kind_of


def rollback_candidates(*, stage: Stage, ref_name: str) -> list[Commit]:
    """Return the earlier commits a ref in ``stage`` pointed at (newest first), excluding the current head."""
    ref = Ref.objects.filter(stage=stage, name=ref_name).first()
    if ref is None:
        return []
    seen: dict[int, Commit] = {}
    for update in RefUpdate.objects.filter(ref=ref).select_related("commit").order_by("-moved_at", "-id"):
        if update.commit_id != ref.head_id and update.commit_id not in seen:
            seen[update.commit_id] = update.commit
    head_content = ref.head.content_checksum if ref.head else None
    return [c for c in seen.values() if c.content_checksum != head_content]


def rollback_request(
    *,
    user: Any,
    checksum: str,
    stage: Stage | None = None,
    ref_name: str | None = None,
    history_ref: str | None = None,
    comment: str = "",
    via: str = "web",
) -> Promotion:
    """Ask to restore an earlier commit of ``stage`` (default: the last stage, prod) as a new forward commit.

    The commit must once have been the head of ``history_ref`` (default ``ref_name``; any ref when neither is
    given), and is restored under ``ref_name``: a ring's ref is restored to what the stage ref published.
    """
    if not user.has_perm("releases.request_promotion"):
        raise PromotionError("You may not request rollbacks (release engineers only).")
    try:
        checksum = validate_checksum(checksum.strip().removeprefix("sha256:"))
    except (InvalidChecksum, AttributeError):
        raise PromotionError(f"{checksum!r} is not a full 64-hex commit checksum.") from None
    stage = stage or Stage.objects.order_by("-order").first()
    if stage is None:
        raise PromotionError("No stages are configured.")
    steps = kind_of(stage)
    steps.require(stage)
    old = Commit.objects.filter(checksum=checksum).first()
    updates = RefUpdate.objects.filter(ref__stage=stage, commit__checksum=checksum).select_related("ref")
    if history_ref or ref_name:
        updates = updates.filter(ref__name=history_ref or ref_name)
    update = updates.first()
    if old is None or update is None:
        raise PromotionError(
            f"Commit {checksum[:10]} was never published in {stage.name}; only earlier "
            f"{stage.name} commits can be restored."
        )
    if not steps.holds(stage=stage, checksum=checksum):
        raise PromotionError(
            f"Commit {checksum[:10]} is no longer in the {stage.name} repo (pruned); it cannot be restored."
        )
    ref = (
        update.ref
        if not ref_name or update.ref.name == ref_name
        else Ref.objects.filter(stage=stage, name=ref_name).first()
    )
    if ref is None:
        raise PromotionError(f"{stage.name} has no ref {ref_name}; nothing to roll back.")
    head = ref.head
    if head is None or head.content_checksum == old.content_checksum:
        raise PromotionConflict(f"{stage.name}:{ref.name} already publishes the tree of {checksum[:10]}.")
    source = stage.previous_stage() or stage
    with transaction.atomic():
        open_one = (
            Promotion.objects.select_for_update()
            .filter(
                target_stage=stage, target_ref=ref.name, kind=Promotion.Kind.ROLLBACK, state__in=Promotion.OPEN_STATES
            )
            .first()
        )
        if open_one is not None:
            raise PromotionConflict(f"Rollback #{open_one.pk} of {ref.name} is already open ({open_one.state}).")
        promotion = Promotion.objects.create(
            kind=Promotion.Kind.ROLLBACK,
            treefile=selectors.treefile_owning([ref.name]),
            commit=old,
            source_stage=source,
            target_stage=stage,
            target_ref=ref.name,
            requested_by=user,
            comment=comment.strip(),
        )
        policy_refresh(promotion)
        tree_diffs_for_request(promotion)
        audit_record(
            action="rollback.request",
            actor=user,
            obj=promotion,
            message=f"Roll {stage.name}:{ref.name} back to the tree of {old.version or checksum[:10]}"
            + (f": {promotion.comment}" if promotion.comment else ""),
            data={"checksum": checksum, "head": head.checksum, "via": via},
        )
        transaction.on_commit(lambda: notifications.notify_approvers(promotion))
    return promotion
