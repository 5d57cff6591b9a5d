"""The shipped nginx configuration, rendered for a temporary root and run by the real nginx."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy.conftest import ProdRepo, Site, https_request, run_nginx


@pytest.fixture
def nginx(site: Site, prod_repo: ProdRepo, tmp_path: Path):  # type: ignore[no-untyped-def]
    with run_nginx(site, tmp_path / "nginx") as port:
        yield port


def test_a_real_ostree_client_pulls_the_prod_ref_through_nginx(
    nginx: int, site: Site, prod_repo: ProdRepo, ostree_pull: Callable[..., str]
) -> None:
    assert ostree_pull(nginx, ca=site.cert) == prod_repo.checksum


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST"])
def test_it_refuses_writes_to_the_repo_and_changes_nothing(nginx: int, prod_repo: ProdRepo, method: str) -> None:
    summary = prod_repo.repo.path / "summary"
    before = hashlib.sha256(summary.read_bytes()).hexdigest()
    files_before = sorted(p.relative_to(prod_repo.repo.path) for p in prod_repo.repo.path.rglob("*"))

    status, _, _ = https_request(nginx, method, "/repo/prod/summary", body=b"not a summary")
    new_status, _, _ = https_request(nginx, method, "/repo/prod/objects/new-file", body=b"x")

    assert status == 403
    assert new_status in {403, 404}
    assert hashlib.sha256(summary.read_bytes()).hexdigest() == before
    assert sorted(p.relative_to(prod_repo.repo.path) for p in prod_repo.repo.path.rglob("*")) == files_before


def test_the_summary_is_always_refetched_not_revalidated_by_mtime(nginx: int, prod_repo: ProdRepo) -> None:
    body = (prod_repo.repo.path / "summary").read_bytes()

    status, headers, content = https_request(nginx, "GET", "/repo/prod/summary")
    # A client that cached the summary this very second still gets the full current file.
    again, _, again_content = https_request(
        nginx, "GET", "/repo/prod/summary", headers={"If-Modified-Since": "Fri, 31 Dec 2038 23:59:59 GMT"}
    )

    assert status == 200
    assert content == body
    assert headers["cache-control"] == "no-cache"
    assert "etag" not in headers
    assert again == 200
    assert again_content == body


def test_objects_are_cached_for_a_year(nginx: int, prod_repo: ProdRepo) -> None:
    commit_object = f"objects/{prod_repo.checksum[:2]}/{prod_repo.checksum[2:]}.commit"

    status, headers, _ = https_request(nginx, "GET", f"/repo/prod/{commit_object}")

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
        "/repo/prod/objects/../.secret",
        "/repo/prod/objects/",
    ],
)
def test_private_repo_files_and_listings_are_not_served(nginx: int, prod_repo: ProdRepo, path: str) -> None:
    status, _, body = https_request(nginx, "GET", path)

    assert status in {403, 404}
    assert b"dotfile" not in body
    assert b"work in progress" not in body


def test_static_files_are_served_from_static_root(nginx: int, site: Site) -> None:
    status, _, body = https_request(nginx, "GET", "/static/css/portal.css")

    assert status == 200
    assert body == (site.static_root / "css" / "portal.css").read_bytes()
