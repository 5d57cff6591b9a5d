from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from kinoite_portal.fleet.models import Host
from kinoite_portal.fleet.services.checkins import checkin_record
from kinoite_portal.fleet.status_parser import parse_status
from tests.fleet.helpers import booted_on, fake_checksum


@pytest.fixture
def hosts(finance: Any, sales: Any, enroll: Any) -> dict[str, Host]:
    result = {}
    for department, name in [(finance, "fin-001"), (finance, "fin-002"), (sales, "sales-001")]:
        host, _ = enroll(department, name)
        for label in ("first", "second"):
            doc = booted_on(fake_checksum(f"{name}-{label}"), version=f"41.2026112{len(label)}.0")
            checkin_record(host=host, hostname=name, status=parse_status(doc), report={"status": doc})
        result[name] = host
    return result


def test_a_department_head_sees_only_their_departments_hosts(hosts: Any, department_head: Any, client_for: Any) -> None:
    client = client_for(department_head)
    listing = client.get(reverse("fleet:host_list")).content.decode()
    assert "fin-001" in listing
    assert "fin-002" in listing
    assert "sales-001" not in listing
    assert "sales-001" not in client.get(reverse("fleet:host_list") + "?department=sales").content.decode()
    overview = client.get(reverse("fleet:rollout")).content.decode()
    assert "Finance" in overview
    assert "Sales" not in overview


def test_a_department_head_gets_404_for_other_departments_by_url_guessing(
    hosts: Any, department_head: Any, client_for: Any
) -> None:
    client = client_for(department_head)
    assert client.get(reverse("fleet:host_detail", args=[hosts["sales-001"].pk])).status_code == 404
    assert client.get(reverse("fleet:department", args=["sales"])).status_code == 404
    assert client.get(reverse("fleet:host_detail", args=[hosts["fin-001"].pk])).status_code == 200
    assert client.get(reverse("fleet:department", args=["finance"])).status_code == 200


def test_a_department_head_cannot_change_anything(hosts: Any, department_head: Any, client_for: Any) -> None:
    client = client_for(department_head)
    assert client.post(reverse("fleet:host_list")).status_code == 405
    assert client.get(reverse("admin:fleet_host_changelist")).status_code == 302
    assert client.get(reverse("fleet:client_setup")).status_code == 403


def test_it_shows_a_hosts_deployments_and_check_in_history(hosts: Any, release_engineer: Any, client_for: Any) -> None:
    page = client_for(release_engineer).get(reverse("fleet:host_detail", args=[hosts["sales-001"].pk])).content.decode()
    assert fake_checksum("sales-001-second")[:16] in page
    assert page.count("41.20261126.0") >= 2  # the booted deployment and the newest check-in
    assert "41.20261125.0" in page  # the first check-in, from the history


def test_it_filters_and_searches_hosts(hosts: Any, release_engineer: Any, client_for: Any) -> None:
    client = client_for(release_engineer)
    by_search = client.get(reverse("fleet:host_list") + "?q=sales").content.decode()
    assert "sales-001" in by_search
    assert "fin-001" not in by_search
    by_checksum = client.get(reverse("fleet:host_list") + "?q=" + fake_checksum("fin-002-second")[:12]).content.decode()
    assert "fin-002" in by_checksum
    assert "fin-001" not in by_checksum
    by_category = client.get(reverse("fleet:host_list") + "?category=other").content.decode()
    assert "fin-001" in by_category  # no prod stage exists: every host follows another source
    partial = client.get(reverse("fleet:host_list") + "?department=sales", HTTP_HX_REQUEST="true").content.decode()
    assert "sales-001" in partial
    assert "<html" not in partial


def test_an_unknown_host_is_404(release_engineer: Any, client_for: Any, db: None) -> None:
    assert client_for(release_engineer).get(reverse("fleet:host_detail", args=[999])).status_code == 404
