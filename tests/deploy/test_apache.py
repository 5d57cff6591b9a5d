"""The shipped Apache drop-in, rendered for a temporary root and run by Debian's apache2 in a RHEL-like layout."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy.conftest import ProdRepo, Site, https_request, run_apache


@pytest.fixture
def apache(site: Site, prod_repo: ProdRepo, tmp_path: Path):  # type: ignore[no-untyped-def]
    with run_apache(site, tmp_path / "httpd") as port:
        yield port


def test_a_real_ostree_client_pulls_the_prod_ref_through_apache_over_tls(
    apache: int, site: Site, prod_repo: ProdRepo, ostree_pull: Callable[..., str]
) -> None:
    assert ostree_pull(apache, ca=site.cert) == prod_repo.checksum


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST"])
def test_it_refuses_writes_to_the_repo_and_changes_nothing(apache: int, prod_repo: ProdRepo, method: str) -> None:
    summary = prod_repo.repo.path / "summary"
    before = hashlib.sha256(summary.read_bytes()).hexdigest()
    files_before = sorted(p.relative_to(prod_repo.repo.path) for p in prod_repo.repo.path.rglob("*"))

    status, _, _ = https_request(apache, method, "/repo/prod/summary", body=b"not a summary")
    new_status, _, _ = https_request(apache, method, "/repo/prod/objects/new-file", body=b"x")

    assert status == 405
    assert new_status in {403, 405}
    assert hashlib.sha256(summary.read_bytes()).hexdigest() == before
    assert sorted(p.relative_to(prod_repo.repo.path) for p in prod_repo.repo.path.rglob("*")) == files_before


def test_the_summary_is_revalidated_by_its_content(apache: int, prod_repo: ProdRepo) -> None:
    summary = prod_repo.repo.path / "summary"
    status, headers, body = https_request(apache, "GET", "/repo/prod/summary")
    etag = headers["etag"]

    # Same content, new mtime: still "not modified".
    os.utime(summary, (1_900_000_000, 1_900_000_000))
    same, _, _ = https_request(apache, "GET", "/repo/prod/summary", headers={"If-None-Match": etag})
    # New content of the same size, same mtime: a new ETag, and a date-only revalidation cannot hide it.
    summary.write_bytes(bytes(reversed(body)))
    os.utime(summary, (1_900_000_000, 1_900_000_000))
    changed, changed_headers, changed_body = https_request(
        apache,
        "GET",
        "/repo/prod/summary",
        headers={"If-None-Match": etag, "If-Modified-Since": "Fri, 31 Dec 2038 23:59:59 GMT"},
    )
    by_date, _, _ = https_request(
        apache, "GET", "/repo/prod/summary", headers={"If-Modified-Since": "Fri, 31 Dec 2038 23:59:59 GMT"}
    )

    assert status == 200
    assert headers["cache-control"] == "no-cache"
    assert same == 304
    assert changed == 200
    assert changed_body == bytes(reversed(body))
    assert changed_headers["etag"] != etag
    assert by_date == 200


def test_objects_are_cached_for_a_year(apache: int, prod_repo: ProdRepo) -> None:
    commit_object = f"objects/{prod_repo.checksum[:2]}/{prod_repo.checksum[2:]}.commit"

    status, headers, _ = https_request(apache, "GET", f"/repo/prod/{commit_object}")

    assert status == 200
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize(
    "path",
    [
        "/repo/prod/",
        "/repo/prod/.secret",
        "/repo/prod/.lock",
        "/repo/prod/tmp/scratch",
        "/repo/prod/state/",
        "/repo/prod/objects/",
    ],
)
def test_private_repo_files_and_listings_are_not_served(apache: int, prod_repo: ProdRepo, path: str) -> None:
    status, _, body = https_request(apache, "GET", path)

    assert status in {403, 404}
    assert b"dotfile" not in body
    assert b"work in progress" not in body


def test_static_files_are_served_from_static_root(apache: int, site: Site) -> None:
    status, _, body = https_request(apache, "GET", "/static/css/portal.css")

    assert status == 200
    assert body == (site.static_root / "css" / "portal.css").read_bytes()
