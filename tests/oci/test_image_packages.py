"""An image's package list is read from the rpm database it carries (real rpm, real registry, real worker)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from kinoite_portal.oci.rpmdb import _parse_query
from kinoite_portal.ostree import ListLog
from kinoite_portal.releases.models import IMAGE_RPMDB_KEY, Commit, Ref, Stage, TreeDiff, Treefile
from kinoite_portal.releases.services.images import image_import, image_packages_read, image_record
from kinoite_portal.releases.services.promotions import promotion_request
from tests.oci.rpmdbs import rpmdb
from tests.oci_registry import Registry, build_image, push_dev_image
from tests.services import Worker

# (name, epoch, version, release): noarch packages built with rpmbuild and installed into a database with rpm.
BASE = [("alpha", 0, "1.0", "1"), ("beta", 2, "2.3", "4")]


def expected(packages: Sequence[tuple[str, int, str, str]]) -> list[list[object]]:
    return sorted([name, epoch, version, release, "noarch"] for name, epoch, version, release in packages)


def push_image_with_rpmdb(
    registry: Registry, workdir: Path, *, repository: str, tag: str, version: str, database: bytes
) -> str:
    """Push a three-layer image whose middle layer holds ``database`` at usr/lib/sysimage/rpm; return its digest.

    The bottom layer holds an older database at usr/share/rpm (a lone package, "ancient"), which the middle layer's
    hides: the top-most layer that holds a database is the one the image runs with.
    """
    return build_image(
        registry=registry,
        repository=repository,
        tag=tag,
        layers=[
            {
                "usr/lib/os-release": "NAME=Kinoite\n",
                "usr/share/rpm/rpmdb.sqlite": rpmdb(workdir, [("ancient", 0, "0.1", "1")]),
            },
            {"usr/lib/sysimage/rpm/rpmdb.sqlite": database},
            {"usr/share/kinoite/version": version},
        ],
        labels={"version": version, "containers.bootc": "1"},
        workdir=workdir,
    )


def test_an_imported_image_records_the_packages_of_its_top_most_rpm_database(
    oci_stages: dict[str, Stage], oci_registry: Registry, tmp_path: Path
) -> None:
    push_image_with_rpmdb(
        oci_registry, tmp_path, repository="dev/kinoite", tag="latest", version="41.1", database=rpmdb(tmp_path, BASE)
    )
    image_import(stage=oci_stages["dev"])
    commit = Commit.objects.get()
    assert commit.packages == expected(BASE)
    assert commit.package_count == 2
    # The middle of three layers (skopeo lists them bottom up), not the bottom one's older database.
    assert commit.package_database == f"usr/lib/sysimage/rpm (layer {commit.metadata['oci.layers'][1][:19]})"
    # Read once: a second import leaves the list alone.
    log = ListLog()
    assert image_packages_read(commit=commit, stage=oci_stages["dev"], log=log) is False
    assert log.lines == []


def test_an_image_without_an_rpm_database_says_so_on_its_page_not_zero_packages(
    oci_stages: dict[str, Stage],
    oci_registry: Registry,
    tmp_path: Path,
    approver: User,
    client_for: Callable[[User], Client],
) -> None:
    push_dev_image(oci_registry, tmp_path)
    commit = image_record(stage=oci_stages["dev"], tag="latest", read_now=True)
    assert commit is not None
    commit.refresh_from_db()
    assert commit.metadata[IMAGE_RPMDB_KEY] == ""
    assert commit.carries_no_package_database
    assert (commit.packages, commit.package_count) == ([], 0)
    page = client_for(approver).get(reverse("releases:commit_detail", args=[commit.checksum]))
    assert page.status_code == 200
    assert "none: the image carries no package database" in page.content.decode()


def test_a_corrupt_rpm_database_changes_nothing_and_the_log_says_why(
    oci_stages: dict[str, Stage], oci_registry: Registry, tmp_path: Path
) -> None:
    push_image_with_rpmdb(
        oci_registry, tmp_path, repository="dev/kinoite", tag="latest", version="41.1", database=b"no database" * 100
    )
    commit = image_record(stage=oci_stages["dev"], tag="latest")  # recorded outside a worker: nothing read yet
    assert commit is not None
    log = ListLog()
    assert image_packages_read(commit=commit, stage=oci_stages["dev"], log=log) is False
    assert "could not be read: rpm could not read the database" in log.text()
    assert "file is not a database" in log.text()
    commit.refresh_from_db()
    assert (commit.packages, commit.package_count, commit.package_database) == ([], 0, None)


def test_an_image_recorded_outside_a_worker_gets_its_packages_from_a_queued_task_and_the_approval_page_shows_the_change(
    oci_stages: dict[str, Stage],
    containerfile: Treefile,
    oci_registry: Registry,
    tmp_path: Path,
    release_engineer: User,
    approver: User,
    client_for: Callable[[User], Client],
    celery_worker: Worker,
) -> None:
    newer = [*BASE, ("gamma", 0, "0.1", "1")]
    push_image_with_rpmdb(
        oci_registry, tmp_path, repository="prod/kinoite", tag="stable", version="41.1", database=rpmdb(tmp_path, BASE)
    )
    image_import(stage=oci_stages["prod"])
    push_image_with_rpmdb(
        oci_registry, tmp_path, repository="dev/kinoite", tag="latest", version="41.2", database=rpmdb(tmp_path, newer)
    )
    commit = image_record(stage=oci_stages["dev"], tag="latest")  # queues the read for the worker
    assert commit is not None
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)
    prod = Ref.objects.get(stage=oci_stages["prod"], name="stable").head
    assert prod is not None
    assert prod.packages == expected(BASE)

    deadline = time.monotonic() + 60
    stored = None
    while time.monotonic() < deadline:
        commit.refresh_from_db()
        stored = TreeDiff.objects.filter(old_tree=prod.checksum, new_tree=commit.checksum).first()
        if commit.package_database is not None and stored is not None and stored.package_changes.get("added"):
            break
        time.sleep(0.2)
    assert commit.packages == expected(newer)
    assert stored is not None
    assert stored.package_changes["added"] == [["gamma", 0, "0.1", "1", "noarch"]]
    assert stored.package_changes["removed"] == stored.package_changes["upgraded"] == []
    assert stored.error == "Images are compared by their package lists; their files are not counted."

    page = client_for(approver).get(reverse("releases:promotion_detail", args=[promotion.pk])).content.decode()
    assert '<td>gamma</td><td class="diff-added">added</td><td>—</td><td class="mono">0.1-1</td>' in page
    assert "<td>beta</td>" not in page  # unchanged packages are not listed
    assert "their files are not counted" in page


def test_the_approval_page_of_an_image_without_a_database_says_so_instead_of_a_diff(
    oci_stages: dict[str, Stage],
    containerfile: Treefile,
    oci_registry: Registry,
    tmp_path: Path,
    release_engineer: User,
    approver: User,
    client_for: Callable[[User], Client],
) -> None:
    push_image_with_rpmdb(
        oci_registry, tmp_path, repository="prod/kinoite", tag="stable", version="41.1", database=rpmdb(tmp_path, BASE)
    )
    image_import(stage=oci_stages["prod"])
    push_dev_image(oci_registry, tmp_path, version="41.2")
    commit = image_record(stage=oci_stages["dev"], tag="latest", read_now=True)
    assert commit is not None
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)
    page = client_for(approver).get(reverse("releases:promotion_detail", args=[promotion.pk])).content.decode()
    assert f"Image {commit.checksum[:12]} (41.2) carries no package database" in page
    assert 'class="pkgdiff"' not in page
    assert "Same packages." not in page


def test_rpms_output_is_sorted_by_name_then_arch_like_an_ostree_commits_list_without_signing_keys() -> None:
    text = "zeta\t0\t1\t1\tx86_64\nalpha\t1\t2\t3\tx86_64\nalpha\t1\t2\t3\ti686\ngpg-pubkey\t0\tab\tcd\t(none)\n"
    assert _parse_query(text) == (
        ("alpha", 1, "2", "3", "i686"),
        ("alpha", 1, "2", "3", "x86_64"),
        ("zeta", 0, "1", "1", "x86_64"),
    )
