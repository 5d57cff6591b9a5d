"""Each promotion page shows its own adoption: how many desktops run what it published, since when, and its rollout."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from kinoite_portal.fleet.models import AdoptionSample, Department, Host
from kinoite_portal.releases.models import Commit, Promotion
from kinoite_portal.rollouts.models import Rollout
from tests.fleet.helpers import PROD_REF, booted_on, deployment, status_doc
from tests.rollouts.conftest import check_in


def test_a_published_promotion_shows_how_many_desktops_run_it_since_when_and_links_its_rollout(
    make_rollout: Callable[..., Rollout],
    commits: dict[str, Commit],
    departments: dict[str, Department],
    make_host: Callable[..., Host],
    approver: Any,
    client_for: Callable[..., Any],
) -> None:
    rollout = make_rollout({"pilot": timedelta(hours=5)})
    new, old = commits["new"].checksum, commits["old"].checksum
    check_in(make_host("it-1", departments["it"]), booted_on(new), greenboot="green")
    check_in(make_host("it-2", departments["it"]), booted_on(new), greenboot="green")
    staged = status_doc(deployment(new, staged=True), deployment(old, booted=True))
    check_in(make_host("fin-1", departments["finance"]), staged)
    check_in(make_host("sales-1", departments["sales"]), booted_on(old))
    first = (timezone.now() - timedelta(hours=4)).replace(minute=0, second=0, microsecond=0)
    AdoptionSample.objects.create(taken_at=first, department=departments["it"], ref=PROD_REF, checksum=new, hosts=1)

    page = client_for(approver).get(reverse("releases:promotion_detail", args=[rollout.promotion_id])).content.decode()

    panel = page[page.index('id="promotion-adoption"') :]
    assert '<strong class="adoption-count">2</strong> of 4 active desktops (50.0%) run 41.20261125.0' in panel
    assert "1 more have it staged" in panel
    assert "first counted on a desktop" in panel
    assert f'href="{reverse("rollouts:detail", args=[rollout.pk])}"' in panel


def test_a_promotion_not_run_yet_says_nothing_is_published(
    make_rollout: Callable[..., Rollout], approver: Any, client_for: Callable[..., Any]
) -> None:
    rollout = make_rollout({})
    Promotion.objects.filter(pk=rollout.promotion_id).update(state=Promotion.State.REQUESTED)
    Rollout.objects.filter(pk=rollout.pk).delete()

    page = client_for(approver).get(reverse("releases:promotion_detail", args=[rollout.promotion_id])).content.decode()

    assert "Nothing published yet: desktops start running 41.20261125.0 once this promotion has run" in page
    assert f'href="{reverse("fleet:rollout")}#adoption"' in page
