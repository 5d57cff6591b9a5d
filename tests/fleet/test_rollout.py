from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kinoite_portal.fleet.models import Host
from kinoite_portal.fleet.selectors import (
    CATEGORY_NAMES,
    department_rollout,
    hosts_with_category,
    pilot_evidence,
    rollout_overview,
)
from kinoite_portal.fleet.services.checkins import checkin_record
from kinoite_portal.fleet.status_parser import parse_status
from kinoite_portal.releases.models import Ref, Stage
from kinoite_portal.releases.services.commits import ref_move
from tests.fleet.helpers import PROD_REF, deployment, fake_checksum, status_doc


@pytest.fixture
def report(enroll: Any) -> Any:
    """Enroll a host and record one check-in for it, as the API does."""

    def make(department: Any, name: str, doc: dict[str, Any], greenboot: str | None = None) -> Host:
        host, _ = enroll(department, name)
        checkin_record(host=host, hostname=name, status=parse_status(doc), report={"status": doc}, greenboot=greenboot)
        return Host.objects.get(pk=host.pk)

    return make


@pytest.fixture
def fleet(finance: Any, sales: Any, prod_history: Any, report: Any) -> dict[str, Host]:
    head, older, oldest = (prod_history[k].checksum for k in ("head", "older", "oldest"))
    container = "ostree-unverified-registry:quay.io/fedora/fedora-kinoite:41"
    hosts = {
        "current": report(finance, "fin-current", status_doc(deployment(head, booted=True))),
        "layered": report(
            finance,
            "fin-layered",
            status_doc(deployment(fake_checksum("local"), booted=True, base_checksum=head, packages=["htop"])),
        ),
        "older": report(finance, "fin-older", status_doc(deployment(older, booted=True, version="41.20261115.0"))),
        "oldest": report(finance, "fin-oldest", status_doc(deployment(oldest, booted=True, version="41.20261101.0"))),
        "staged": report(
            finance, "fin-staged", status_doc(deployment(head, staged=True), deployment(older, booted=True))
        ),
        "unknown": report(
            finance, "fin-unknown", status_doc(deployment(fake_checksum("built-elsewhere"), booted=True))
        ),
        "container": report(finance, "fin-container", status_doc(deployment(head, booted=True, container=container))),
        "fedora": report(
            finance,
            "fin-fedora",
            status_doc(deployment(fake_checksum("fedora"), booted=True, origin="fedora:fedora/41/x86_64/kinoite")),
        ),
        "silent": report(finance, "fin-silent", status_doc(deployment(head, booted=True))),
        "sales": report(sales, "sales-001", status_doc(deployment(head, booted=True))),
    }
    Host.objects.filter(pk=hosts["silent"].pk).update(last_checkin_at=timezone.now() - timedelta(days=30))
    return hosts


def categories() -> dict[str, str]:
    return dict(hosts_with_category().values_list("hostname", "category"))


def test_each_host_falls_in_exactly_the_category_its_status_says(fleet: dict[str, Host]) -> None:
    assert categories() == {
        "fin-current": "current",
        "fin-layered": "current",
        "fin-older": "older",
        "fin-oldest": "older",
        "fin-staged": "staged",
        "fin-unknown": "unknown",
        "fin-container": "other",
        "fin-fedora": "other",
        "fin-silent": "silent",
        "sales-001": "current",
    }


def test_a_layered_host_is_counted_on_its_base_image(fleet: dict[str, Host], prod_history: Any) -> None:
    assert fleet["layered"].booted_checksum == prod_history["head"].checksum
    assert categories()["fin-layered"] == "current"


def test_a_container_host_counts_as_following_another_source_not_as_unknown(fleet: dict[str, Host]) -> None:
    assert categories()["fin-container"] == "other"


def test_the_department_page_counts_per_ref_with_percentages_and_older_versions(fleet: dict[str, Host]) -> None:
    rows, total = department_rollout(fleet["current"].department)
    by_ref = {row.ref: row for row in rows}
    stable = by_ref[PROD_REF]
    assert stable.head_version == "41.20261125.0"
    assert {name: cell.count for name, cell in stable.cells.items()} == {
        "current": 2,
        "older": 2,
        "staged": 1,
        "unknown": 1,
        "other": 0,
        "silent": 1,
    }
    assert stable.older_versions == [("41.20261115.0", 1), ("41.20261101.0", 1)]
    assert by_ref[""].cells["other"].count == 2
    assert total.total == 9
    assert total.cells["current"].percent == round(100 * 2 / 9, 1)


def test_the_overview_counts_per_department(fleet: dict[str, Host], release_engineer: Any) -> None:
    overview = rollout_overview(release_engineer)
    rows = {row.label: row for row in overview.rows}
    assert rows["Finance"].total == 9
    assert rows["Sales"].cells["current"].count == 1
    assert rows["Sales"].cells["current"].percent == 100.0
    assert overview.total.total == 10


def test_the_rollout_page_uses_the_same_number_of_queries_for_more_hosts(
    fleet: dict[str, Host], report: Any, release_engineer: Any, client_for: Any, prod_history: Any
) -> None:
    client = client_for(release_engineer)
    finance = fleet["current"].department
    urls = [
        reverse("fleet:rollout"),
        reverse("fleet:department", args=[finance.slug]),
        reverse("fleet:host_list") + "?category=older",
    ]

    def count_queries() -> list[int]:
        counts = []
        for url in urls:
            cache.clear()  # both counts read the adoption samples, which the charts otherwise keep per hour
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(url).status_code == 200
            counts.append(len(ctx.captured_queries))
        return counts

    before = count_queries()
    for index in range(15):
        report(finance, f"fin-extra-{index}", status_doc(deployment(prod_history["older"].checksum, booted=True)))
    assert count_queries() == before


def test_the_rollout_page_shows_counts_and_links_each_department(
    fleet: dict[str, Host], release_engineer: Any, client_for: Any
) -> None:
    page = client_for(release_engineer).get(reverse("fleet:rollout")).content.decode()
    assert 'href="/fleet/departments/finance/"' in page
    assert 'href="/fleet/departments/sales/"' in page
    assert "41.20261125.0" in page


def test_pilot_evidence_counts_hosts_that_booted_a_commit_and_are_healthy(
    finance: Any, report: Any, prod_history: Any
) -> None:
    candidate = prod_history["dev_only"].checksum
    dev = f"dev:{'fedora/x86_64/kinoite/dev'}"
    report(finance, "pilot-green", status_doc(deployment(candidate, booted=True, origin=dev)), greenboot="green")
    report(finance, "pilot-quiet", status_doc(deployment(candidate, booted=True, origin=dev)))
    report(finance, "pilot-red", status_doc(deployment(candidate, booted=True, origin=dev)), greenboot="red")
    gone = report(finance, "pilot-gone", status_doc(deployment(candidate, booted=True, origin=dev)))
    Host.objects.filter(pk=gone.pk).update(last_checkin_at=timezone.now() - timedelta(days=20))
    report(
        finance,
        "pilot-staged-only",
        status_doc(
            deployment(candidate, staged=True, origin=dev), deployment(prod_history["head"].checksum, booted=True)
        ),
    )
    evidence = pilot_evidence(checksum=candidate)
    assert (evidence.booted, evidence.healthy, evidence.red, evidence.silent) == (4, 2, 1, 1)
    assert pilot_evidence(checksum=fake_checksum("never-booted")).booted == 0


def test_the_overview_groups_hosts_exactly_as_hosts_with_category_does(
    fleet: dict[str, Host],
    report: Any,
    enroll: Any,
    prod_history: Any,
    finance: Any,
    sales: Any,
    release_engineer: Any,
) -> None:
    # Beyond the fleet fixture, the cases where the two implementations could part ways: a ref name published by
    # two stages with different heads (the later stage wins), a published ref that has no head yet, a commit only
    # in the other stage's history of that name, and a host that never checked in.
    dev, prod = Stage.objects.get(name="dev"), Stage.objects.get(name="prod")
    ref_move(stage=dev, ref_name=PROD_REF, commit=prod_history["dev_only"], source="import")
    Ref.objects.create(stage=prod, name="fedora/x86_64/kinoite/headless")
    dev_only = prod_history["dev_only"].checksum
    report(sales, "sales-dev-head", status_doc(deployment(dev_only, booted=True)))
    report(
        sales,
        "sales-headless",
        status_doc(deployment(dev_only, booted=True, origin="prod:fedora/x86_64/kinoite/headless")),
    )
    report(
        sales,
        "sales-staged-other",
        status_doc(
            deployment(dev_only, staged=True, container="quay.io/x:41"),
            deployment(dev_only, booted=True, container="quay.io/x:41"),
        ),
    )
    enroll(sales, "sales-never")

    overview = rollout_overview(release_engineer)
    by_department = {row.department.pk: row for row in overview.rows if row.department}
    expected_total: Counter[str] = Counter()
    for department in (finance, sales):
        expected = Counter(
            hosts_with_category(Host.objects.filter(department=department)).values_list("category", flat=True)
        )
        expected_total += expected
        row = by_department[department.pk]
        assert {name: cell.count for name, cell in row.cells.items() if cell.count} == dict(expected)
        _, department_total = department_rollout(department)
        assert {name: cell.count for name, cell in department_total.cells.items() if cell.count} == dict(expected)
    assert {name: cell.count for name, cell in overview.total.cells.items() if cell.count} == dict(expected_total)
    # Every category is exercised, so a rule that differs between the two cannot hide.
    assert set(expected_total) == set(CATEGORY_NAMES)
