from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from kinoite_portal.fleet.models import CheckIn, Department, Host
from kinoite_portal.fleet.services.checkins import checkin_history_trim_all, checkin_record, hosts_mark_silent
from kinoite_portal.fleet.services.enrollment import enrollment_token_create, host_enroll
from kinoite_portal.fleet.status_parser import parse_status
from kinoite_portal.fleet.tasks import checkin_history_trim_task, hosts_mark_silent_task
from kinoite_portal.schedules import BEAT_SCHEDULE
from tests.fleet.helpers import booted_on, fake_checksum, machine_id
from tests.services import wait_until


def make_hosts(count: int, checkins: int) -> list[Host]:
    department = Department.objects.create(name="Ops", slug="ops")
    token = enrollment_token_create(department=department, max_uses=count)
    hosts = []
    for index in range(count):
        host = host_enroll(raw_token=token.raw, hostname=f"ops-{index}", machine_id=machine_id(f"ops-{index}")).host
        for n in range(checkins):
            doc = booted_on(fake_checksum(f"c{n}"))
            checkin_record(host=host, hostname=host.hostname, status=parse_status(doc), report={"n": n})
        hosts.append(host)
    return hosts


def test_it_marks_hosts_silent_and_clears_the_mark_when_they_report(db: None, settings: Any) -> None:
    settings.PORTAL_SILENT_AFTER_DAYS = 3
    quiet, active, never = make_hosts(3, 1)
    Host.objects.filter(pk=quiet.pk).update(last_checkin_at=timezone.now() - timedelta(days=4))
    Host.objects.filter(pk=never.pk).update(last_checkin_at=None)
    Host.objects.filter(pk=active.pk).update(is_silent=True)
    assert hosts_mark_silent() == {"marked": 2, "cleared": 1}
    assert set(Host.objects.filter(is_silent=True).values_list("hostname", flat=True)) == {
        quiet.hostname,
        never.hostname,
    }
    assert hosts_mark_silent() == {"marked": 0, "cleared": 0}


def test_it_trims_history_to_the_newest_entries_per_host(db: None, settings: Any) -> None:
    hosts = make_hosts(2, 4)
    settings.PORTAL_CHECKIN_HISTORY = 2
    assert checkin_history_trim_all() == 4
    for host in hosts:
        assert list(CheckIn.objects.filter(host=host).values_list("report__n", flat=True)) == [3, 2]


def test_both_jobs_are_on_the_beat_schedule() -> None:
    tasks = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert {"fleet.hosts_mark_silent", "fleet.checkin_history_trim"} <= tasks


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_beat_tasks(celery_worker: Any) -> None:
    (host,) = make_hosts(1, 1)
    # Written directly, as a burst of reports that raced the per-check-in trim would leave them.
    CheckIn.objects.bulk_create([CheckIn(host=host, report={"n": n}) for n in range(60)])
    assert CheckIn.objects.filter(host=host).count() == 61
    Host.objects.filter(pk=host.pk).update(last_checkin_at=timezone.now() - timedelta(days=30))
    hosts_mark_silent_task.delay()
    checkin_history_trim_task.delay()
    wait_until(lambda: Host.objects.get(pk=host.pk).is_silent, message="host marked silent")
    wait_until(lambda: CheckIn.objects.filter(host=host).count() == 50, message="history trimmed to 50")
