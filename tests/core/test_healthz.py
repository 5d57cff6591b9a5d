from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.slow
def test_it_reports_database_redis_and_a_live_worker(celery_worker, client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is True
    assert celery_worker.name in body["workers"]["names"]


def test_it_says_degraded_without_workers(db, client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is True
    assert body["workers"] == {"ok": False, "count": 0, "names": []}


def test_it_reports_redis_down(db, client: Client, settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    body = client.get("/healthz").json()

    assert body["status"] == "degraded"
    assert body["redis"]["ok"] is False
    assert "error" in body["redis"]
