"""Static deltas, generated after a promotion has published its ref, in a task of their own.

Generating a delta costs far more than publishing (for a 50,000-file image with 5 % changed, about 50 s of CPU
against 2 s for pull-local, ref and summary; see bench item 5), and clients do not need it to update: they fall back
to fetching objects. So, as flat-manager does, a promotion publishes the ref and the summary first, and this task adds
the delta and writes the summary again when the delta is ready. It holds libostree's shared repo lock while it reads
objects (a prune cannot delete them meanwhile) and the portal's repo lock only to rewrite the summary.
"""

from __future__ import annotations

import time

from kinoite_portal.ostree import repo_lock
from kinoite_portal.releases.models import Promotion
from kinoite_portal.releases.services.joblog import JobLog
from kinoite_portal.releases.services.stages import stage_repo, stage_repo_lock, stage_summary_update

LOCK_TIMEOUT = 60.0


def static_delta_publish(*, promotion_id: int) -> str | None:
    """Generate the delta from the head a promotion replaced to the commit it published; return its name, or None.

    Nothing is done when the promotion is gone, did not succeed or replaced no head, or when a later request for the
    ref exists or its commit is no longer the ref's head (a delta to a commit clients no longer get is never used).
    Safe to run twice: a delta is kept.
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
        # A later request moves (or will move) the ref on: its own task makes the delta clients will use.
        return None
    previous, published = promotion.previous_head.checksum, promotion.published_commit.checksum
    with JobLog(Promotion, promotion.pk) as log:
        target = stage_repo(promotion.target_stage, log=log)
        if previous == published or target.resolve(promotion.target_ref) != published:
            return None
        if not target.has_commit(previous):
            log.write(f"# no static delta: {previous[:10]} is no longer in the repo")
            return None
        name = f"{previous}-{published}"
        started = time.monotonic()
        with repo_lock(target.path, timeout=LOCK_TIMEOUT):
            target.generate_static_delta(previous, published)
        generated = time.monotonic() - started
        with stage_repo_lock(promotion.target_stage, timeout=LOCK_TIMEOUT):
            stage_summary_update(repo=target, stage=promotion.target_stage)
        log.write(f"# static delta {previous[:10]}-{published[:10]} generated in {generated:.1f} s; summary updated")
    return name
