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


def test_it_shows_a_staged_version_in_full_not_cut_like_a_checksum(
    finance: Any, enroll: Any, release_engineer: Any, client_for: Any
) -> None:
    from tests.fleet.helpers import deployment, status_doc

    host, _ = enroll(finance, "fin-staged")
    doc = status_doc(
        deployment(fake_checksum("new"), version="41.20261130.0", staged=True),
        deployment(fake_checksum("old"), version="41.20261125.0", booted=True),
    )
    checkin_record(host=host, hostname="fin-staged", status=parse_status(doc), report={"status": doc})

    listing = client_for(release_engineer).get(reverse("fleet:host_list")).content.decode()

    assert "staged 41.20261130.0" in listing
    assert 'class="hostname"' in listing  # host names do not wrap (static/css/portal.css)


def test_it_formats_deployment_dates_and_links_only_commits_the_portal_knows(
    hosts: Any,
    prod_history: Any,
    finance: Any,
    enroll: Any,
    release_engineer: Any,
    department_head: Any,
    client_for: Any,
) -> None:
    known = next(iter(prod_history.values()))
    host, _ = enroll(finance, "fin-known")
    doc = booted_on(known.checksum, version=known.version)
    checkin_record(host=host, hostname="fin-known", status=parse_status(doc), report={"status": doc})
    url = reverse("fleet:host_detail", args=[host.pk])

    engineer = client_for(release_engineer).get(url).content.decode()
    head = client_for(department_head).get(url).content.decode()
    unknown = (
        client_for(release_engineer).get(reverse("fleet:host_detail", args=[hosts["fin-001"].pk])).content.decode()
    )

    assert f'href="/releases/commits/{known.checksum}/"' in engineer
    assert f'href="/releases/commits/{known.checksum}/"' not in head  # department heads cannot open commit pages
    assert f'data-copy="{known.checksum}"' in head
    assert "/releases/commits/" not in unknown  # a commit the portal never saw has no page to link to
    assert "2025-11-25 00:00 UTC</time>" in engineer  # the deployment's date, not a raw ISO string
    assert ">2025-11-25T" not in engineer


def test_the_demo_hosts_last_check_in_is_their_newest_history_row(db: None) -> None:
    from kinoite_portal.fleet.demo import seed_departments, seed_hosts
    from kinoite_portal.fleet.models import CheckIn

    seed_departments()
    seed_hosts()

    for host in Host.objects.all():
        newest = CheckIn.objects.filter(host=host).order_by("-received_at").first()
        assert newest is not None
        assert newest.received_at == host.last_checkin_at, host.hostname
