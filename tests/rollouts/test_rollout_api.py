"""The token API and the management commands for rings and rollouts."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from kinoite_portal.core.models import ApiToken, AuditEvent
from kinoite_portal.core.tokens import token_new
from kinoite_portal.releases.models import Stage
from kinoite_portal.rollouts.models import Ring, Rollout, RolloutEvent


def token_for(user: Any) -> str:
    new = token_new("kpa")
    ApiToken.objects.create(user=user, name="automation", prefix=new.prefix, token_hash=new.token_hash)
    return new.raw


def call(method: str, path: str, token: str | None, body: Any = None) -> tuple[int, Any]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    client = Client(enforce_csrf_checks=True)  # token-authenticated: no CSRF token needed
    if method == "get":
        response = client.get(path, **headers)
    else:
        response = client.post(path, json.dumps(body or {}), content_type="application/json", **headers)
    return response.status_code, response.json()


def snapshot(rollout: Rollout) -> tuple[Any, ...]:
    fresh = Rollout.objects.get(pk=rollout.pk)
    rings = list(fresh.rings.order_by("order").values_list("state", flat=True))
    return fresh.state, rings, RolloutEvent.objects.count(), AuditEvent.objects.count()


def test_the_api_lists_rings_and_rollouts_with_each_rings_gate(rollout: Rollout, approver: Any) -> None:
    token = token_for(approver)

    status, rings = call("get", "/api/v1/rings", token)
    assert status == 200
    assert [(r["stage"], r["name"], r["departments"]) for r in rings["rings"]] == [
        ("prod", "pilot", ["it"]),
        ("prod", "early", []),
        ("prod", "broad", []),
    ]
    status, listed = call("get", "/api/v1/rollouts?active=1", token)
    assert status == 200
    assert [item["id"] for item in listed["rollouts"]] == [rollout.pk]
    status, detail = call("get", f"/api/v1/rollouts/{rollout.pk}", token)
    assert status == 200
    assert [(r["name"], r["gate"]) for r in detail["rings"]] == [
        ("pilot", "soaking"),
        ("early", "waiting"),
        ("broad", "waiting"),
    ]
    assert 0 < detail["rings"][0]["opens_in_seconds"] <= 24 * 3600


def test_an_approver_pauses_resumes_advances_and_halts_through_the_api(rollout: Rollout, approver: Any) -> None:
    token = token_for(approver)
    base = f"/api/v1/rollouts/{rollout.pk}"

    assert call("post", f"{base}/pause", token, {"reason": "freeze"})[1]["state"] == "paused"
    assert call("post", f"{base}/resume", token, {})[1]["state"] == "running"
    status, body = call("post", f"{base}/advance", token, {"reason": "urgent fix", "ring": "early"})
    assert status == 200
    assert [r["state"] for r in body["rings"]] == ["moved", "moving", "waiting"]
    status, body = call("post", f"{base}/halt", token, {"reason": "tickets"})
    assert (status, body["state"]) == (200, "halted")
    assert body["halt_reason"] == "Halted by alice: tickets"


@pytest.mark.parametrize(
    ("action", "body", "status", "error"),
    [
        ("advance", {"reason": "go", "ring": "canary"}, 400, "no ring 'canary'"),
        ("advance", {"reason": ""}, 400, "needs a written reason"),
        ("advance", {"reason": 5}, 400, "'reason' must be a string"),
        ("advance", {"reason": "go", "ring": "pilot"}, 409, "pilot ring already has the commit"),
        ("halt", {}, 400, "Say why"),
        ("resume", {}, 409, "only a paused or halted one can resume"),
        ("rollback", {}, 403, "release engineers only"),
    ],
)
def test_bad_requests_get_a_clear_error_and_change_nothing(
    rollout: Rollout, approver: Any, action: str, body: dict[str, Any], status: int, error: str
) -> None:
    before = snapshot(rollout)

    answer = call("post", f"/api/v1/rollouts/{rollout.pk}/{action}", token_for(approver), body)

    assert answer[0] == status
    assert error in answer[1]["error"]
    assert snapshot(rollout) == before


def test_unknown_rollouts_missing_tokens_and_users_without_the_right_get_404_401_403(
    rollout: Rollout, release_engineer: Any, department_head: Any
) -> None:
    before = snapshot(rollout)

    assert call("post", f"/api/v1/rollouts/{rollout.pk}/pause", token_for(department_head))[0] == 403
    assert call("post", f"/api/v1/rollouts/{rollout.pk}/halt", None, {"reason": "x"})[0] == 401
    assert call("post", f"/api/v1/rollouts/{rollout.pk}/halt", token_for(release_engineer), {"reason": "x"})[0] == 403
    assert call("get", "/api/v1/rollouts", token_for(department_head))[0] == 403
    assert snapshot(rollout) == before


def test_the_api_returns_404_for_an_unknown_rollout(rollout: Rollout, approver: Any) -> None:
    status, body = call("post", "/api/v1/rollouts/999/pause", token_for(approver))
    assert (status, body["error"]) == (404, "No rollout #999.")


def test_the_commands_show_and_act_on_a_rollout_as_a_named_user(rollout: Rollout, approver: Any) -> None:
    out = StringIO()
    call_command("rollout", "list", "--active", stdout=out)
    assert f"#{rollout.pk} running" in out.getvalue()

    out = StringIO()
    call_command("rollout", "advance", str(rollout.pk), "--reason", "urgent", "--as", "alice", stdout=out)
    assert "The early ring is moving" in out.getvalue()
    assert "early      moving" in out.getvalue()

    call_command("rollout", "halt", str(rollout.pk), "--reason", "tickets", "--as", "alice", stdout=StringIO())
    assert Rollout.objects.get(pk=rollout.pk).state == Rollout.State.HALTED
    before = snapshot(rollout)
    with pytest.raises(CommandError, match="halted: resume it"):
        call_command("rollout", "advance", str(rollout.pk), "--reason", "go", "--as", "alice")
    with pytest.raises(CommandError, match="needs --as"):
        call_command("rollout", "pause", str(rollout.pk))
    with pytest.raises(CommandError, match="No rollout #999"):
        call_command("rollout", "show", "999")
    assert snapshot(rollout) == before


def test_the_rings_command_creates_the_default_rings_once(stages: dict[str, Stage]) -> None:
    out = StringIO()
    call_command("rings", "--create-defaults", "prod", stdout=out)

    assert [(r.name, r.order, r.success_threshold, r.failure_threshold) for r in Ring.objects.all()] == [
        ("pilot", 1, 90, 5),
        ("early", 2, 90, 5),
        ("broad", 3, 90, 5),
    ]
    assert "prod: pilot -> early -> broad" in out.getvalue()
    with pytest.raises(CommandError, match="already has rings"):
        call_command("rings", "--create-defaults", "prod")
    with pytest.raises(CommandError, match="no stage 'qa'"):
        call_command("rings", "--create-defaults", "qa")
    assert Ring.objects.count() == 3
