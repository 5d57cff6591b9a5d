"""The token-authenticated JSON API: the Ansible playbook becomes one call that still needs approval."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from kinoite_portal.core.models import ApiToken
from kinoite_portal.core.tokens import token_new
from kinoite_portal.ostree import Repo
from kinoite_portal.releases.models import Promotion
from kinoite_portal.releases.services.promotions import promotion_run

pytestmark = pytest.mark.django_db(transaction=True)


def token_for(user, **extra) -> str:  # type: ignore[no-untyped-def]
    new = token_new("kpa")
    ApiToken.objects.create(user=user, name="ansible", prefix=new.prefix, token_hash=new.token_hash, **extra)
    return new.raw


def post(path: str, token: str | None, body: dict) -> tuple[int, dict]:  # type: ignore[type-arg]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    # enforce_csrf_checks: the API must work without a CSRF token because it never trusts a cookie.
    response = Client(enforce_csrf_checks=True).post(path, json.dumps(body), content_type="application/json", **headers)
    return response.status_code, response.json()


def test_a_request_through_the_api_still_needs_approval(stages, make_dev_commit, release_engineer, approver):
    commit = make_dev_commit("41.20261125.0")
    status, body = post(
        "/api/v1/promotions", token_for(release_engineer), {"checksum": commit.checksum, "comment": "ansible"}
    )
    assert status == 201, body
    assert body["state"] == "requested"
    assert Repo(stages["prod"].repo_dir).refs() == {}

    status, body = post(f"/api/v1/promotions/{body['id']}/approve", token_for(approver), {"comment": "ok"})
    assert status == 200, body
    assert body["state"] == "queued"
    promotion_run(promotion_id=body["id"])
    response = Client().get(f"/api/v1/promotions/{body['id']}", HTTP_AUTHORIZATION=f"Bearer {token_for(approver)}")
    assert response.json()["state"] == "succeeded"
    assert response.json()["published_checksum"] == commit.checksum


def test_the_token_acts_with_its_users_permissions_only(stages, make_dev_commit, release_engineer, approver):
    commit = make_dev_commit("41.20261125.0")
    status, body = post("/api/v1/promotions", token_for(approver), {"checksum": commit.checksum})
    assert status == 403
    assert "may not request" in body["error"]
    status, created = post("/api/v1/promotions", token_for(release_engineer), {"checksum": commit.checksum})
    assert status == 201
    status, _body = post(f"/api/v1/promotions/{created['id']}/approve", token_for(release_engineer), {})
    assert status == 403
    assert Promotion.objects.get().state == Promotion.State.REQUESTED


def test_it_refuses_missing_revoked_and_expired_tokens_and_cookies(
    stages, make_dev_commit, release_engineer, client_for
):
    commit = make_dev_commit("41.20261125.0")
    body = {"checksum": commit.checksum}
    assert post("/api/v1/promotions", None, body)[0] == 401
    assert post("/api/v1/promotions", token_for(release_engineer, revoked_at=timezone.now()), body)[0] == 401
    assert post("/api/v1/promotions", token_for(release_engineer, expires_at=timezone.now()), body)[0] == 401
    # A browser session is not enough: the API ignores cookies.
    response = client_for(release_engineer).post(
        "/api/v1/promotions", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 401
    assert not Promotion.objects.exists()


def test_bad_input_gets_a_clear_error(stages, make_dev_commit, release_engineer):
    make_dev_commit("41.20261125.0")
    token = token_for(release_engineer)
    status, body = post("/api/v1/promotions", token, {"checksum": "cd" * 32})
    assert status == 400
    assert "is not in the dev repo" in body["error"]
    status, body = post("/api/v1/rollbacks", token, {"checksum": "cd" * 32})
    assert status == 400
    assert "never published" in body["error"]
    response = Client().post(
        "/api/v1/promotions", b"[1,", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 400
    assert "JSON object" in response.json()["error"]
    assert not Promotion.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"checksum": "' + b"cd" * 32 + b'", "x": 1e400}',
        b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"[" * 100_000,
    ],
)
def test_bodies_no_database_can_store_answer_400_not_500(stages, make_dev_commit, release_engineer, raw):
    make_dev_commit("41.20261125.0")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_for(release_engineer)}"}

    response = Client().post("/api/v1/promotions", raw, content_type="application/json", **headers)

    assert response.status_code == 400
    assert "The body must be a JSON object: " in response.json()["error"]
    assert not Promotion.objects.exists()


def test_state_conflicts_answer_409_and_bad_input_400(stages, make_dev_commit, release_engineer, approver):
    commit = make_dev_commit("41.20261125.0")
    engineer = token_for(release_engineer)
    status, _created = post("/api/v1/promotions", engineer, {"checksum": commit.checksum})
    assert status == 201

    status, body = post("/api/v1/promotions", engineer, {"checksum": commit.checksum})
    assert status == 409
    assert "already open" in body["error"]
    status, body = post("/api/v1/promotions", engineer, {"checksum": "not-a-checksum"})
    assert status == 400
    assert "64-hex" in body["error"]
    assert Promotion.objects.count() == 1
