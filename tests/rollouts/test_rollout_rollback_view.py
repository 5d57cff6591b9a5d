"""After a halt, a release engineer rolls the moved rings back with one click on the rollout page (real repos)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import reverse

from kinoite_portal.releases.models import Promotion
from kinoite_portal.rollouts.models import Rollout
from kinoite_portal.rollouts.services.rollouts import rollout_halt
from tests.fleet.helpers import PROD_REF

PILOT = f"{PROD_REF}-pilot"


def test_one_click_requests_the_rollback_of_the_moved_rings_and_a_second_click_adds_nothing(
    rollout: Rollout, approver: Any, release_engineer: Any, client_for: Callable[..., Any]
) -> None:
    rollout_halt(user=approver, rollout=rollout, reason="Pilot desktops fail to boot.")
    client = client_for(release_engineer)
    url = reverse("rollouts:rollback", args=[rollout.pk])

    page = client.post(url, {}, HTTP_HX_REQUEST="true").content.decode()
    (requested,) = Promotion.objects.filter(kind=Promotion.Kind.ROLLBACK)
    assert (requested.target_ref, requested.commit, requested.state) == (
        PILOT,
        rollout.previous_commit,
        Promotion.State.REQUESTED,
    )
    assert "Rollback requested:" in page
    assert f'href="{reverse("releases:promotion_detail", args=[requested.pk])}"' in page

    reloaded = client.get(reverse("fleet:rollout")).content.decode()
    assert "act-rollback" not in reloaded  # the open request stands in for the button
    assert f"#{requested.pk} ({PILOT})" in reloaded

    again = client.post(url, {}, HTTP_HX_REQUEST="true").content.decode()
    assert "action-error" in again  # the open rollback request blocks a second one
    assert Promotion.objects.filter(kind=Promotion.Kind.ROLLBACK).count() == 1
