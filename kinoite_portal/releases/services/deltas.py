"""Static deltas, generated after a ref was published (by a promotion or a ring move), in a task of their own.

Generating a delta costs far more than publishing (for a 50,000-file image with 5 % changed, about 50 s of CPU
against 2 s for pull-local, ref and summary; see bench item 5), and clients do not need it to update: they fall back
to fetching objects. So, as flat-manager does, a promotion or a ring move publishes the ref and the summary first,
and this task adds the delta and writes the summary again when the delta is ready. It holds libostree's shared repo
lock while it reads objects (a prune cannot delete them meanwhile) and the portal's repo lock only to rewrite the
summary.
"""

from __future__ import annotations

import time

from kinoite_portal.core.audit import audit_record
from kinoite_portal.ostree import LogSink, repo_lock
from kinoite_portal.releases.models import Promotion, Stage
from kinoite_portal.releases.services.joblog import JobLog
from kinoite_portal.releases.services.stages import stage_repo, stage_repo_lock, stage_summary_update
from kinoite_portal.releases.stage_kinds.base import LOCK_TIMEOUT


def static_delta_publish(*, stage: Stage, ref: str, from_checksum: str, to_checksum: str, log: LogSink) -> str | None:
    """Generate the delta ``from_checksum``-``to_checksum`` in the stage's repo and rewrite its summary.

    Return the delta's name, or None when nothing was done: ``ref`` no longer points at ``to_checksum`` (a delta
    to a commit clients no longer get is never used), or ``from_checksum`` is gone from the repo. Safe to run twice:
    a delta is kept.
    """
    target = stage_repo(stage, log=log)
    if from_checksum == to_checksum or target.resolve(ref) != to_checksum:
        return None
    if not target.has_commit(from_checksum):
        log.write(f"# no static delta: {from_checksum[:10]} is no longer in the repo")
        return None
    started = time.monotonic()
    with repo_lock(target.path, timeout=LOCK_TIMEOUT):
        name = target.generate_static_delta(from_checksum, to_checksum).name
    generated = time.monotonic() - started
    with stage_repo_lock(stage, timeout=LOCK_TIMEOUT):
        stage_summary_update(repo=target, stage=stage)
    log.write(f"# static delta {from_checksum[:10]}-{to_checksum[:10]} generated in {generated:.1f} s; summary updated")
    return name


def ref_static_delta_publish(*, stage_id: int, ref: str, from_checksum: str, to_checksum: str) -> str | None:
    """Publish the delta for a ref moved outside a promotion (a ring move); its commands go to the audit trail."""
    stage = Stage.objects.select_related("signing_key").filter(pk=stage_id).first()
    if stage is None:
        return None
    with JobLog() as log:
        name = static_delta_publish(stage=stage, ref=ref, from_checksum=from_checksum, to_checksum=to_checksum, log=log)
    if name is not None:
        audit_record(
            action="stage.static_delta",
            actor_label="worker",
            obj=stage,
            message=f"{stage.name}: static delta {from_checksum[:10]}-{to_checksum[:10]} for {ref}",
            commands=log.commands,
            data={"ref": ref, "from": from_checksum, "to": to_checksum},
        )
    return name


def promotion_static_delta_publish(*, promotion_id: int) -> str | None:
    """Publish the delta from the head a promotion replaced to the commit it published (``static_delta_publish``).

    Nothing is done when the promotion is gone, did not succeed or replaced no head, or when a later request for the
    ref exists: its own task makes the delta clients will use. The lines go to the promotion's log.
    """
    promotion = (
        Promotion.objects.select_related(
            "target_stage", "target_stage__signing_key", "previous_head", "published_commit"
        )
        .filter(pk=promotion_id)
        .first()
    )
    if promotion is None or promotion.state != Promotion.State.SUCCEEDED or promotion.previous_head is None:
        return None
    assert promotion.published_commit is not None
    newer = Promotion.objects.filter(
        pk__gt=promotion.pk, target_stage=promotion.target_stage, target_ref=promotion.target_ref
    ).exclude(state__in=[Promotion.State.FAILED, Promotion.State.REJECTED, Promotion.State.CANCELLED])
    if newer.exists():
        return None
    with JobLog(Promotion, promotion.pk) as log:
        return static_delta_publish(
            stage=promotion.target_stage,
            # On a stage with rings the promotion moved the first ring's ref, which its clients follow.
            ref=promotion.publish_ref,
            from_checksum=promotion.previous_head.checksum,
            to_checksum=promotion.published_commit.checksum,
            log=log,
        )
