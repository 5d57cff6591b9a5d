"""SIGKILL the worker mid-promotion: prod stays consistent, and the re-queued task finishes the job."""

from __future__ import annotations

import time

import pytest

from kinoite_portal.ostree import Repo
from kinoite_portal.releases.models import Promotion, RefUpdate
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.promotions import promotion_request
from kinoite_portal.releases.services.requeue import promotion_requeue_stuck
from tests.releases.conftest import REF_STABLE
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_killed_during_pull_local_leaves_prod_consistent_and_the_retry_finishes(
    stages, make_dev_commit, release_engineer, approver, start_worker
):
    v1 = make_dev_commit("41.20261125.0")
    first = approval_grant(user=approver, promotion=promotion_request(user=release_engineer, checksum=v1.checksum))
    worker = start_worker(queues="repo")
    wait_until(lambda: Promotion.objects.get(pk=first.pk).state == "succeeded", timeout=60, message="v1 promoted")
    # 3,000 files of 8 KB (24 MB): pull-local takes long enough to be caught in the act.
    big = make_dev_commit("41.20261126.0", bash="5.2.37", big_files=3000)
    promotion = approval_grant(user=approver, promotion=promotion_request(user=release_engineer, checksum=big.checksum))

    def pulling() -> bool:
        row = Promotion.objects.get(pk=promotion.pk)
        return row.state == Promotion.State.RUNNING and "+ ostree pull-local" in row.log

    wait_until(pulling, timeout=60, interval=0.01, message="pull-local started")
    worker.kill()
    killed_at = time.monotonic()

    prod = Repo(stages["prod"].repo_dir)
    assert prod.resolve(REF_STABLE) in (v1.checksum, big.checksum)
    assert prod.fsck().ok
    assert Promotion.objects.get(pk=promotion.pk).state == Promotion.State.RUNNING

    # The beat task sees "running" with the repo lock free (the kernel dropped the dead worker's lock) and re-queues.
    assert promotion_requeue_stuck() == [promotion.pk]
    assert promotion_requeue_stuck() == []  # sent once: the next beat run within five minutes leaves it alone
    start_worker(queues="repo", extra_env={"CELERY_VISIBILITY_TIMEOUT": "5"})
    wait_until(
        lambda: Promotion.objects.get(pk=promotion.pk).state in Promotion.FINISHED_STATES,
        timeout=90,
        message="promotion finished after the restart",
    )
    promotion.refresh_from_db()
    assert promotion.state == Promotion.State.SUCCEEDED, promotion.log
    assert "resuming" in promotion.log
    assert prod.resolve(REF_STABLE) == big.checksum
    fsck = prod.fsck()
    assert fsck.ok, fsck.output
    assert RefUpdate.objects.filter(promotion=promotion).count() == 1
    assert time.monotonic() - killed_at < 90
