"""bootc desktops on the rollout pages: counted by image digest against the tags of the OCI stage they follow.

bootc cannot run on the test machine: hosts check in through the real check-in service with documents in the exact
shape ``bootc status --json`` prints (tests/fleet/helpers.py ``bootc_doc``).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from kinoite_portal.fleet.models import Department, Host
from kinoite_portal.fleet.selectors import CATEGORY_NAMES, department_rollout, hosts_with_category, rollout_overview
from kinoite_portal.fleet.services.checkins import checkin_record
from kinoite_portal.fleet.status_parser import parse_bootc_status, parse_status
from kinoite_portal.releases.models import Commit, Stage
from kinoite_portal.releases.services.commits import ref_move
from tests.fleet.helpers import bootc_doc, bootc_entry, booted_on, deployment, fake_checksum, status_doc

REGISTRY, REPOSITORY = "registry.example.com", "prod/kinoite"
IMAGE = f"{REGISTRY}/{REPOSITORY}"


@pytest.fixture
def images(db: None) -> dict[str, Commit]:
    """An OCI stage whose tag ``stable`` held three images, oldest first, and an ostree stage with a ref ``stable``."""
    stage = Stage.objects.create(
        name="prod-images", order=2, kind=Stage.Kind.OCI, image_registry=REGISTRY, image_repository=REPOSITORY
    )
    ostree = Stage.objects.create(name="prod", order=1, repo_path="prod")
    start = timezone.now() - timedelta(days=30)
    commits: dict[str, Commit] = {}
    for index, (label, version) in enumerate(
        [("oldest", "41.20261101.0"), ("older", "41.20261115.0"), ("head", "41.20261125.0")]
    ):
        # An image is a commit whose checksum is its manifest digest's hex.
        commits[label] = Commit.objects.create(
            checksum=fake_checksum(f"image {label}"), version=version, timestamp=start + timedelta(days=10 * index)
        )
        ref_move(stage=stage, ref_name="stable", commit=commits[label], source="import")
    # An ostree ref of the same name: bootc hosts never count against it, nor ostree hosts against the tag.
    commits["ostree"] = Commit.objects.create(checksum=fake_checksum("ostree stable"), timestamp=start)
    ref_move(stage=ostree, ref_name="stable", commit=commits["ostree"], source="import")
    return commits


@pytest.fixture
def bootc_fleet(images: dict[str, Commit], finance: Department, sales: Department, enroll: Any) -> dict[str, Host]:
    head, older, oldest = (images[k].checksum for k in ("head", "older", "oldest"))

    def report(department: Department, name: str, doc: dict[str, Any], status: Any = None) -> Host:
        host, _ = enroll(department, name)
        checkin_record(
            host=host,
            hostname=name,
            status=parse_status(status) if status else None,
            bootc=parse_bootc_status(doc),
            report={"bootc": doc},
            greenboot="green",
        )
        return Host.objects.get(pk=host.pk)

    hosts = {
        "current": report(finance, "fin-bootc-current", bootc_doc(bootc_entry(head, image=f"{IMAGE}:stable"))),
        "older": report(finance, "fin-bootc-older", bootc_doc(bootc_entry(older, image=f"{IMAGE}:stable"))),
        "oldest": report(
            finance,
            "fin-bootc-insecure",
            bootc_doc(bootc_entry(oldest, image=f"{IMAGE}:stable", version="41.20261101.0", signature="insecure")),
        ),
        "staged": report(
            finance,
            "fin-bootc-staged",
            bootc_doc(bootc_entry(older, image=f"{IMAGE}:stable"), staged=bootc_entry(head, image=f"{IMAGE}:stable")),
        ),
        "unknown": report(
            finance,
            "fin-bootc-unknown",
            bootc_doc(bootc_entry(fake_checksum("pushed by hand"), image=f"{IMAGE}:stable", signature=None)),
        ),
        "other": report(
            finance, "fin-bootc-quay", bootc_doc(bootc_entry(head, image="quay.io/fedora/fedora-kinoite:stable"))
        ),
        "by-digest": report(finance, "fin-bootc-pinned", bootc_doc(bootc_entry(head, image=f"{IMAGE}@sha256:{head}"))),
        "silent": report(finance, "fin-bootc-silent", bootc_doc(bootc_entry(head, image=f"{IMAGE}:stable"))),
        "sales": report(sales, "sales-bootc", bootc_doc(bootc_entry(head, image=f"{IMAGE}:stable", signature=None))),
        # An ostree host following an ostree ref named like the tag is counted against that ref, not the tag.
        "ostree": ostree_host(sales, enroll, images["ostree"].checksum),
    }
    Host.objects.filter(pk=hosts["silent"].pk).update(last_checkin_at=timezone.now() - timedelta(days=30))
    return hosts


def ostree_host(department: Department, enroll: Any, checksum: str) -> Host:
    host, _ = enroll(department, "sales-ostree")
    doc = booted_on(checksum, origin="prod:stable")
    checkin_record(host=host, hostname=host.hostname, status=parse_status(doc), report={"status": doc})
    return Host.objects.get(pk=host.pk)


def categories() -> dict[str, str]:
    return dict(hosts_with_category().values_list("hostname", "category"))


def test_bootc_hosts_count_against_the_oci_stages_tag_by_digest(bootc_fleet: dict[str, Host]) -> None:
    assert categories() == {
        "fin-bootc-current": "current",
        "fin-bootc-older": "older",
        "fin-bootc-insecure": "older",
        "fin-bootc-staged": "staged",
        "fin-bootc-unknown": "unknown",
        "fin-bootc-quay": "other",  # another registry: no OCI stage is that repository
        "fin-bootc-pinned": "other",  # pinned by digest: follows no tag
        "fin-bootc-silent": "silent",
        "sales-bootc": "current",
        "sales-ostree": "current",  # on the ostree ref "stable", whose head it boots
    }


def test_the_department_page_has_a_row_per_tag_with_older_versions_and_the_unsigned_count(
    bootc_fleet: dict[str, Host],
) -> None:
    rows, total = department_rollout(bootc_fleet["current"].department)
    by_following = {row.following: row for row in rows}
    tag = by_following[f"{IMAGE}:stable"]
    assert (tag.stage, tag.head_version) == ("prod-images", "41.20261125.0")
    assert {name: cell.count for name, cell in tag.cells.items() if cell.count} == {
        "current": 1,
        "older": 2,
        "staged": 1,
        "unknown": 1,
        "silent": 1,
    }
    assert tag.older_versions == [("41.20261115.0", 1), ("41.20261101.0", 1)]
    assert by_following["stable"].total == 0  # the ostree ref of the same name
    assert by_following[""].cells["other"].count == 2
    assert total.total == 8
    assert total.unsigned == 2  # insecure, and the one switched without a signature policy


def test_the_overview_counts_unsigned_hosts_per_department(
    bootc_fleet: dict[str, Host], release_engineer: Any, department_head: Any
) -> None:
    overview = rollout_overview(release_engineer)
    rows = {row.label: row for row in overview.rows}
    assert (rows["Finance"].unsigned, rows["Sales"].unsigned, overview.total.unsigned) == (2, 1, 3)
    head = rollout_overview(department_head)  # heads Finance only
    assert [(row.label, row.unsigned) for row in head.rows] == [("Finance", 2)]


def test_the_overview_groups_bootc_hosts_exactly_as_hosts_with_category_does(
    bootc_fleet: dict[str, Host], finance: Department, sales: Department, release_engineer: Any
) -> None:
    overview = rollout_overview(release_engineer)
    by_department = {row.department.pk: row for row in overview.rows if row.department}
    expected_total: Counter[str] = Counter()
    for department in (finance, sales):
        expected = Counter(
            hosts_with_category(Host.objects.filter(department=department)).values_list("category", flat=True)
        )
        expected_total += expected
        assert {k: c.count for k, c in by_department[department.pk].cells.items() if c.count} == dict(expected)
    assert set(expected_total) == set(CATEGORY_NAMES)


def test_a_department_head_sees_the_tag_row_and_the_unsigned_warning(
    bootc_fleet: dict[str, Host], department_head: Any, client_for: Any
) -> None:
    client = client_for(department_head)
    page = client.get(reverse("fleet:department", args=["finance"])).content.decode()
    assert f'data-ref="{IMAGE}:stable"' in page
    assert 'id="unsigned-hosts"' in page
    assert 'data-unsigned="2"' in page
    # Sales is not theirs: neither its page nor its hosts.
    assert client.get(reverse("fleet:department", args=["sales"])).status_code == 404
    listed = client.get(reverse("fleet:host_list") + "?unsigned=1").content.decode()
    assert 'data-host="fin-bootc-insecure"' in listed
    assert 'data-host="fin-bootc-unknown"' in listed
    assert 'data-host="fin-bootc-current"' not in listed
    assert 'data-host="sales-bootc"' not in listed


def test_it_staff_see_the_unsigned_count_per_department_and_the_warning_on_the_host(
    bootc_fleet: dict[str, Host], release_engineer: Any, client_for: Any
) -> None:
    client = client_for(release_engineer)
    page = client.get(reverse("fleet:rollout")).content.decode()
    assert 'id="unsigned-hosts"' in page
    assert "3 bootc desktops would boot an image nobody signed" in page
    assert page.count("unsigned-count") == 2
    host = client.get(reverse("fleet:host_detail", args=[bootc_fleet["oldest"].pk])).content.decode()
    assert 'id="unsigned-host"' in host
    assert 'data-signature="insecure"' in host
    assert bootc_fleet["oldest"].booted_checksum[:10] in host
    signed = client.get(reverse("fleet:host_detail", args=[bootc_fleet["current"].pk])).content.decode()
    assert 'id="unsigned-host"' not in signed
    assert 'data-signature="container-policy"' in signed


def test_administrators_filter_hosts_by_image_signature_in_the_admin(
    bootc_fleet: dict[str, Host], admin_user: Any, client_for: Any
) -> None:
    page = client_for(admin_user).get("/admin/fleet/host/?image_signature=insecure").content.decode()
    assert "fin-bootc-insecure" in page
    assert "fin-bootc-current" not in page


def test_a_host_rebased_with_rpm_ostree_to_the_stages_image_counts_against_its_tag_by_digest(
    images: dict[str, Commit], finance: Department, enroll: Any
) -> None:
    # rpm-ostree rebase ostree-image-signed:docker://... without bootc's report: rpm-ostree gives the digest too.
    def rebased(name: str, reference: str, digest: str | None) -> Host:
        host, _ = enroll(finance, name)
        doc = status_doc(deployment(fake_checksum(f"ostree of {name}"), booted=True, origin=None, container=reference))
        if digest is None:
            del doc["deployments"][0]["container-image-reference-digest"]
        else:
            doc["deployments"][0]["container-image-reference-digest"] = f"sha256:{digest}"
        checkin_record(host=host, hostname=name, status=parse_status(doc), report={"status": doc})
        return Host.objects.get(pk=host.pk)

    head = images["head"].checksum
    signed = rebased("fin-rebased-signed", f"ostree-image-signed:docker://{IMAGE}:stable", head)
    unverified = rebased(
        "fin-rebased-unverified", f"ostree-unverified-registry:{IMAGE}:stable", images["older"].checksum
    )
    no_digest = rebased("fin-rebased-old-rpm-ostree", f"ostree-image-signed:docker://{IMAGE}:stable", None)

    assert (signed.booted_checksum, signed.booted_remote, signed.booted_ref) == (head, IMAGE, "stable")
    assert (signed.image_signature, unverified.image_signature) == ("container-policy", "unverified")
    assert unverified.accepts_unsigned
    assert categories() == {
        "fin-rebased-signed": "current",
        "fin-rebased-unverified": "older",
        "fin-rebased-old-rpm-ostree": "other",  # no digest to compare: it follows no stage the portal can tell
    }
    assert no_digest.booted_checksum == fake_checksum("ostree of fin-rebased-old-rpm-ostree")
