"""Hourly adoption samples and the "images over time" chart they feed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kinoite_portal.fleet.models import AdoptionSample, CheckIn, Host
from kinoite_portal.fleet.selectors import adoption_history
from kinoite_portal.fleet.services.adoption import adoption_sample_take
from kinoite_portal.fleet.services.checkins import checkin_record
from kinoite_portal.fleet.status_parser import parse_status
from kinoite_portal.fleet.tasks import adoption_sample_take_task
from kinoite_portal.releases.models import Stage
from kinoite_portal.releases.services.commits import ref_move
from kinoite_portal.schedules import BEAT_SCHEDULE
from tests.fleet.helpers import PROD_REF, deployment, fake_checksum, status_doc
from tests.services import wait_until


@pytest.fixture
def report(enroll: Any) -> Any:
    def make(department: Any, name: str, checksum: str) -> Host:
        host, _ = enroll(department, name)
        doc = status_doc(deployment(checksum, booted=True))
        checkin_record(host=host, hostname=name, status=parse_status(doc), report={"status": doc})
        return Host.objects.get(pk=host.pk)

    return make


def hour_ago(hours: int) -> Any:
    return timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)


def samples() -> set[tuple[str, str, str, int]]:
    return set(AdoptionSample.objects.values_list("department__slug", "ref", "checksum", "hosts"))


def test_it_counts_active_hosts_per_department_ref_and_image(
    finance: Any, sales: Any, report: Any, prod_history: Any
) -> None:
    head, older = prod_history["head"].checksum, prod_history["older"].checksum
    report(finance, "fin-1", head)
    report(finance, "fin-2", head)
    report(finance, "fin-3", older)
    report(sales, "sales-1", head)
    gone = report(sales, "sales-gone", older)
    Host.objects.filter(pk=gone.pk).update(last_checkin_at=timezone.now() - timedelta(days=10))
    CheckIn.objects.all().delete()  # no history to backfill from: only this hour's sample

    assert adoption_sample_take() == 3
    assert samples() == {("finance", PROD_REF, head, 2), ("finance", PROD_REF, older, 1), ("sales", PROD_REF, head, 1)}


def test_it_is_safe_to_run_twice_in_one_hour(finance: Any, report: Any, prod_history: Any) -> None:
    host = report(finance, "fin-1", prod_history["older"].checksum)
    adoption_sample_take()
    Host.objects.filter(pk=host.pk).update(booted_checksum=prod_history["head"].checksum)
    adoption_sample_take()

    this_hour = AdoptionSample.objects.filter(taken_at=hour_ago(0))
    assert list(this_hour.values_list("checksum", "hosts")) == [(prod_history["head"].checksum, 1)]


def test_the_first_run_backfills_earlier_hours_from_the_checkin_history(
    finance: Any, report: Any, prod_history: Any
) -> None:
    older, head = prod_history["older"].checksum, prod_history["head"].checksum
    host = report(finance, "fin-1", head)
    other = report(finance, "fin-2", head)
    CheckIn.objects.all().delete()
    history = [
        (host, older, hour_ago(5) + timedelta(minutes=10)),
        (host, older, hour_ago(5) + timedelta(minutes=40)),
        (other, older, hour_ago(5) + timedelta(minutes=20)),
        (host, head, hour_ago(2) + timedelta(minutes=5)),
    ]
    for who, checksum, received_at in history:
        checkin = CheckIn.objects.create(host=who, booted_checksum=checksum, report={})
        CheckIn.objects.filter(pk=checkin.pk).update(received_at=received_at)  # auto_now_add ignores a given time

    adoption_sample_take()

    by_hour = set(AdoptionSample.objects.values_list("taken_at", "checksum", "hosts"))
    assert by_hour == {(hour_ago(5), older, 2), (hour_ago(2), head, 1), (hour_ago(0), head, 2)}


def test_it_drops_samples_older_than_the_retention(finance: Any, report: Any, prod_history: Any, settings: Any) -> None:
    settings.PORTAL_ADOPTION_DAYS = 10
    report(finance, "fin-1", prod_history["head"].checksum)
    adoption_sample_take()
    AdoptionSample.objects.create(taken_at=hour_ago(24 * 11), department=finance, ref=PROD_REF, checksum="x", hosts=3)
    AdoptionSample.objects.create(taken_at=hour_ago(24 * 9), department=finance, ref=PROD_REF, checksum="y", hosts=3)

    adoption_sample_take()

    assert set(AdoptionSample.objects.values_list("checksum", flat=True)) == {"y", prod_history["head"].checksum}


def test_the_history_sums_departments_per_image_with_promotion_and_rollback_markers(
    finance: Any, sales: Any, prod_history: Any
) -> None:
    older, head = prod_history["older"], prod_history["head"]
    prod = Stage.objects.get(name="prod")
    ref_move(stage=prod, ref_name=PROD_REF, commit=older, source="rollback", moved_at=hour_ago(4))
    ref_move(stage=prod, ref_name=PROD_REF, commit=head, source="promotion", moved_at=hour_ago(2))
    for hours, on_old, on_new in ((3, 5, 0), (2, 4, 1), (1, 1, 4)):
        for department in (finance, sales):
            AdoptionSample.objects.create(
                taken_at=hour_ago(hours), department=department, ref=PROD_REF, checksum=older.checksum, hosts=on_old
            )
            AdoptionSample.objects.create(
                taken_at=hour_ago(hours), department=department, ref=PROD_REF, checksum=head.checksum, hosts=on_new
            )

    history = adoption_history(highlight=head.checksum)
    only_finance = adoption_history(department_ids=[finance.pk], highlight=head.checksum)

    assert history.buckets == [hour_ago(3), hour_ago(2), hour_ago(1)]
    assert [(s.label, s.values, s.tone) for s in history.series] == [
        ("41.20261125.0", [0, 2, 8], "new"),
        ("41.20261115.0", [10, 8, 2], ""),
    ]
    assert [s.values for s in only_finance.series] == [[0, 1, 4], [5, 4, 1]]
    assert [(m.kind, m.at) for m in history.markers] == [("rollback", hour_ago(4)), ("promotion", hour_ago(2))]
    chart = history.chart()
    assert [area.css for area in chart.areas] == ["chart-new", "chart-s1"]
    assert [marker.short for marker in chart.markers] == ["R", "P"]


def test_the_chart_leaves_a_gap_where_no_sample_was_taken(finance: Any, prod_history: Any) -> None:
    for hours in (6, 5, 2, 1):
        AdoptionSample.objects.create(
            taken_at=hour_ago(hours), department=finance, ref=PROD_REF, checksum=prod_history["head"].checksum, hosts=3
        )

    (area,) = adoption_history().chart().areas

    assert len(area.polygons) == 2  # hours 6-5 and 2-1, nothing drawn for 4 and 3


def test_the_history_costs_the_same_queries_for_more_samples(finance: Any, sales: Any, prod_history: Any) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            adoption_history(department_ids=[finance.pk, sales.pk]).chart()
        return len(ctx.captured_queries)

    AdoptionSample.objects.create(taken_at=hour_ago(1), department=finance, ref=PROD_REF, checksum="a", hosts=1)
    before = count()
    AdoptionSample.objects.bulk_create(
        AdoptionSample(taken_at=hour_ago(h), department=d, ref=PROD_REF, checksum=fake_checksum(f"{h % 9}"), hosts=h)
        for h in range(2, 200)
        for d in (finance, sales)
    )
    assert count() == before


def test_the_grouped_samples_are_read_once_and_read_again_when_the_next_sample_is_taken(
    finance: Any, report: Any, prod_history: Any
) -> None:
    head, older = prod_history["head"].checksum, prod_history["older"].checksum
    host = report(finance, "fin-1", older)
    adoption_sample_take(now=hour_ago(1) + timedelta(minutes=2))

    def read() -> tuple[dict[str, list[int]], int]:
        with CaptureQueriesContext(connection) as ctx:
            history = adoption_history(highlight=head)
        return {s.key: s.values for s in history.series}, len(ctx.captured_queries)

    first, first_queries = read()
    again, kept_queries = read()
    assert first == again == {older: [1]}
    assert kept_queries < first_queries  # the grouped samples and versions were kept

    Host.objects.filter(pk=host.pk).update(booted_checksum=head)
    adoption_sample_take()  # this hour's sample: the kept rows no longer stand for the newest samples
    now, _ = read()
    assert now == {head: [0, 1], older: [1, 0]}


def test_the_rollout_pages_draw_the_chart_as_svg_without_inline_style(
    finance: Any, report: Any, prod_history: Any, release_engineer: Any, client_for: Any
) -> None:
    report(finance, "fin-1", prod_history["head"].checksum)
    adoption_sample_take()
    client = client_for(release_engineer)

    for url in (reverse("fleet:rollout"), reverse("fleet:department", args=["finance"])):
        page = client.get(url).content.decode()
        assert '<svg class="chart-svg"' in page, url
        assert "<polygon" in page, url
        assert "style=" not in page, url
        assert '<svg class="bar rollout-bar"' in page, url


def test_a_department_head_charts_only_their_departments(
    finance: Any, sales: Any, report: Any, prod_history: Any, department_head: Any, client_for: Any
) -> None:
    report(finance, "fin-1", prod_history["head"].checksum)
    report(sales, "sales-1", prod_history["older"].checksum)
    adoption_sample_take()

    page = client_for(department_head).get(reverse("fleet:rollout")).content.decode()

    assert "41.20261125.0 <span" in page  # finance's image in the legend
    assert "41.20261115.0 <span" not in page  # sales' image is not


def test_the_sampling_job_is_on_the_beat_schedule() -> None:
    assert "fleet.adoption_sample_take" in {entry["task"] for entry in BEAT_SCHEDULE.values()}


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_takes_the_sample(celery_worker: Any, finance: Any, report: Any, prod_history: Any) -> None:
    report(finance, "fin-1", prod_history["head"].checksum)
    adoption_sample_take_task.delay()
    wait_until(lambda: AdoptionSample.objects.filter(hosts=1).exists(), message="sample taken by the worker")
