"""Pages of queued jobs say when no worker consumes their queue (checked at most every few seconds per process)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from kinoite_portal.core.queues import queue_consumers
from kinoite_portal.releases.models import Compose, Promotion
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.composes import compose_request
from kinoite_portal.releases.services.promotions import promotion_request
from tests.releases.test_api_promotions import token_for
from tests.services import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_compose_page_warns_when_no_worker_takes_the_compose_queue_and_stops_once_one_does(
    treefile, release_engineer, client_for, start_worker
) -> None:
    start_worker(queues="default,repo")
    compose = compose_request(treefile=treefile, trigger="test")
    client = client_for(release_engineer)
    queue_consumers(refresh=True)
    expected = f"no worker is listening on the compose queue of {settings.CELERY_BROKER_URL}; is the worker running?"

    assert expected not in client.get(f"/releases/composes/{compose.pk}/").content.decode()  # within the grace

    Compose.objects.filter(pk=compose.pk).update(created_at=timezone.now() - timedelta(seconds=30))
    assert expected in client.get(f"/releases/composes/{compose.pk}/").content.decode()
    status = client.get(f"/releases/composes/{compose.pk}/status/", HTTP_HX_REQUEST="true")
    assert expected in status.content.decode()

    start_worker(queues="compose")
    queue_consumers(refresh=True)
    wait_until(
        lambda: Compose.objects.get(pk=compose.pk).is_finished, timeout=60, message="the new worker ran the compose"
    )
    assert "queue-warning" not in client.get(f"/releases/composes/{compose.pk}/").content.decode()


def test_an_approved_promotion_warns_when_no_worker_takes_the_repo_queue(
    make_dev_commit, release_engineer, approver, client_for, start_worker
) -> None:
    start_worker(queues="default,compose")
    commit = make_dev_commit("41.20261125.0")
    promotion = approval_grant(
        user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum)
    )
    Promotion.objects.filter(pk=promotion.pk).update(queued_at=timezone.now() - timedelta(seconds=30))
    queue_consumers(refresh=True)
    expected = f"no worker is listening on the repo queue of {settings.CELERY_BROKER_URL}; is the worker running?"

    page = client_for(approver).get(f"/releases/promotions/{promotion.pk}/").content.decode()
    log = client_for(approver).get(f"/releases/promotions/{promotion.pk}/log", HTTP_HX_REQUEST="true")

    assert expected in page
    assert expected in log.content.decode()
    assert Promotion.objects.get(pk=promotion.pk).state == Promotion.State.QUEUED


def test_the_api_tells_automation_that_an_approved_promotion_waits_for_a_worker_nobody_runs(
    make_dev_commit, release_engineer, approver, start_worker
) -> None:
    start_worker(queues="default,compose")
    commit = make_dev_commit("41.20261125.0")
    promotion = approval_grant(
        user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum)
    )
    token = token_for(approver)
    queue_consumers(refresh=True)

    fresh = Client().get(f"/api/v1/promotions/{promotion.pk}", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    Promotion.objects.filter(pk=promotion.pk).update(queued_at=timezone.now() - timedelta(seconds=30))
    waiting = Client().get(f"/api/v1/promotions/{promotion.pk}", HTTP_AUTHORIZATION=f"Bearer {token}").json()

    assert fresh["warnings"] == []  # within the grace a busy worker may still be starting
    assert waiting["state"] == "queued"
    assert waiting["warnings"] == [
        f"The job waits: no worker is listening on the repo queue of {settings.CELERY_BROKER_URL}; "
        "is the worker running?"
    ]
