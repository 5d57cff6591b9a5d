"""Approvers act on a rollout from its page: each button calls the engine's service and answers with the rings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse

from kinoite_portal.rollouts.models import Rollout, RolloutEvent, RolloutRing

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def rollout(make_rollout: Callable[..., Rollout]) -> Rollout:
    """Pilot moved 2 h ago and soaking; early and broad wait."""
    return make_rollout({"pilot": timedelta(hours=2)})


def post(client: Any, name: str, rollout: Rollout, **data: str) -> Any:
    return client.post(reverse(f"rollouts:{name}", args=[rollout.pk]), data, **HTMX)


def test_an_approver_pauses_and_resumes_and_gets_the_rings_back(
    rollout: Rollout, approver: Any, client_for: Callable[..., Any]
) -> None:
    client = client_for(approver)

    paused = post(client, "pause", rollout)
    assert paused.status_code == 200
    assert 'data-state="paused"' in paused.content.decode()
    assert 'class="act-resume"' in paused.content.decode()
    resumed = post(client, "resume", rollout)
    assert 'data-state="running"' in resumed.content.decode()
    kinds = list(RolloutEvent.objects.filter(rollout=rollout).values_list("kind", flat=True))
    assert kinds == [RolloutEvent.Kind.PAUSED, RolloutEvent.Kind.RESUMED]


def test_advancing_early_without_a_reason_is_refused_and_moves_nothing(
    rollout: Rollout, approver: Any, client_for: Callable[..., Any]
) -> None:
    response = post(client_for(approver), "advance", rollout, reason="  ", ring="early")

    assert "action-error" in response.content.decode()
    assert "reason" in response.content.decode()
    assert RolloutRing.objects.get(rollout=rollout, name="early").state == RolloutRing.State.WAITING
    assert not RolloutEvent.objects.filter(rollout=rollout).exists()


def test_a_second_click_on_advance_early_is_refused(
    rollout: Rollout, approver: Any, client_for: Callable[..., Any]
) -> None:
    client = client_for(approver)

    post(client, "advance", rollout, reason="Finance needs the fix today.", ring="early")
    again = post(client, "advance", rollout, reason="Finance needs the fix today.", ring="early")

    assert "action-error" in again.content.decode()
    assert RolloutEvent.objects.filter(rollout=rollout, kind=RolloutEvent.Kind.ADVANCED).count() == 1
    assert RolloutRing.objects.get(rollout=rollout, name="broad").state == RolloutRing.State.WAITING


def test_a_halt_needs_a_reason_and_then_stops_the_rollout(
    rollout: Rollout, approver: Any, client_for: Callable[..., Any]
) -> None:
    client = client_for(approver)

    refused = post(client, "halt", rollout, reason="")
    assert "action-error" in refused.content.decode()
    assert Rollout.objects.get(pk=rollout.pk).state == Rollout.State.RUNNING

    halted = post(client, "halt", rollout, reason="Printers break on pilot desktops.")
    assert 'data-state="halted"' in halted.content.decode()
    assert "Printers break on pilot desktops." in halted.content.decode()
    assert Rollout.objects.get(pk=rollout.pk).state == Rollout.State.HALTED


def test_a_plain_form_post_redirects_to_the_rollout_with_a_message(
    rollout: Rollout, approver: Any, client_for: Callable[..., Any]
) -> None:
    response = client_for(approver).post(reverse("rollouts:pause", args=[rollout.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("rollouts:detail", args=[rollout.pk])
    assert "Rollout paused" in response.content.decode()


@pytest.mark.parametrize("name", ["pause", "resume", "advance", "halt", "rollback"])
def test_a_department_head_may_not_act_on_a_rollout(
    name: str, rollout: Rollout, department_head: Any, client_for: Callable[..., Any]
) -> None:
    response = post(client_for(department_head), name, rollout, reason="because")

    assert response.status_code == 403
    assert Rollout.objects.get(pk=rollout.pk).state == Rollout.State.RUNNING
    assert not RolloutEvent.objects.filter(rollout=rollout).exists()


def test_a_rollback_of_a_rollout_that_is_not_halted_is_refused(
    rollout: Rollout, release_engineer: Any, client_for: Callable[..., Any]
) -> None:
    response = post(client_for(release_engineer), "rollback", rollout)

    assert response.status_code == 200
    assert "halt it before rolling its rings back" in response.content.decode()
