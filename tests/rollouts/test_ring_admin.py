from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.test import Client
from django.urls import reverse

from kinoite_portal.fleet.models import Department
from kinoite_portal.releases.models import Stage
from kinoite_portal.rollouts.models import Ring


def test_an_admin_adds_a_ring_with_the_default_gate(
    admin_user: Any, client_for: Callable[..., Client], prod: Stage, departments: dict[str, Department]
) -> None:
    client = client_for(admin_user)
    form = client.get(reverse("admin:rollouts_ring_add"))
    assert form.status_code == 200
    assert b"24 hours" in form.content or b"1 00:00:00" in form.content

    answer = client.post(
        reverse("admin:rollouts_ring_add"),
        {
            "stage": prod.pk,
            "order": 1,
            "name": "pilot",
            "departments": [departments["it"].pk],
            "soak_time": "1 00:00:00",
            "success_threshold": 90,
            "failure_threshold": 5,
            "update_timeout": "1 00:00:00",
            "auto_advance": "on",
        },
    )

    assert answer.status_code == 302
    ring = Ring.objects.get()
    assert (ring.name, ring.soak_time, list(ring.departments.all())) == (
        "pilot",
        timedelta(days=1),
        [departments["it"]],
    )
    assert ring.ref_for("fedora/x86_64/kinoite/stable") == "fedora/x86_64/kinoite/stable-pilot"


def test_the_admin_refuses_a_second_ring_of_the_same_name_or_order_and_thresholds_over_100(
    admin_user: Any, client_for: Callable[..., Client], prod: Stage
) -> None:
    Ring.objects.create(stage=prod, name="pilot", order=1)
    client = client_for(admin_user)
    base = {"stage": prod.pk, "soak_time": "1 00:00:00", "update_timeout": "1 00:00:00", "failure_threshold": 5}

    for bad in (
        {"name": "pilot", "order": 2, "success_threshold": 90},
        {"name": "early", "order": 1, "success_threshold": 90},
        {"name": "early", "order": 2, "success_threshold": 101},
    ):
        answer = client.post(reverse("admin:rollouts_ring_add"), {**base, **bad})
        assert answer.status_code == 200  # the form again, with the error
        assert b"errornote" in answer.content

    assert Ring.objects.count() == 1


def test_the_default_rings_button_gives_a_stage_pilot_early_and_broad(
    admin_user: Any, client_for: Callable[..., Client], prod: Stage
) -> None:
    client = client_for(admin_user)
    changelist = client.get(reverse("admin:rollouts_ring_changelist"))
    assert reverse("admin:rollouts_ring_create_defaults").encode() in changelist.content

    answer = client.post(reverse("admin:rollouts_ring_create_defaults"), {"stage": prod.pk}, follow=True)

    assert answer.redirect_chain[-1][0] == reverse("admin:rollouts_ring_changelist")
    assert [(r.order, r.name, r.soak_time) for r in Ring.objects.filter(stage=prod)] == [
        (1, "pilot", timedelta(days=1)),
        (2, "early", timedelta(days=1)),
        (3, "broad", timedelta(days=1)),
    ]
    assert b"Prod now has the rings pilot -&gt; early -&gt; broad" in answer.content


def test_the_default_rings_button_leaves_a_stage_with_rings_as_it_is(
    admin_user: Any, client_for: Callable[..., Client], prod: Stage
) -> None:
    Ring.objects.create(stage=prod, name="volunteers", order=1)

    answer = client_for(admin_user).post(reverse("admin:rollouts_ring_create_defaults"), {"stage": prod.pk})

    assert answer.status_code == 200
    assert b"already has rings" in answer.content
    assert list(Ring.objects.values_list("name", flat=True)) == ["volunteers"]


def test_the_default_rings_page_refuses_staff_who_may_not_add_rings_and_a_post_without_csrf(
    release_engineer: Any, admin_user: Any, prod: Stage
) -> None:
    staff = Client()
    staff.force_login(release_engineer)
    assert staff.get(reverse("admin:rollouts_ring_create_defaults")).status_code == 403
    assert staff.post(reverse("admin:rollouts_ring_create_defaults"), {"stage": prod.pk}).status_code == 403

    no_csrf = Client(enforce_csrf_checks=True)
    no_csrf.force_login(admin_user)
    assert no_csrf.post(reverse("admin:rollouts_ring_create_defaults"), {"stage": prod.pk}).status_code == 403
    assert not Ring.objects.exists()
