"""What the shipped Apache and nginx configs must both do, checked against each real server in turn."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.deploy.conftest import ProdRepo, Site, WebServer, https_request, repo_state

# How each server words its refusal of a write: to an existing file, and to a new one.
WRITE_REFUSALS = {"apache": (405, {403, 405}), "nginx": (403, {403, 404})}


def test_a_real_ostree_client_pulls_the_prod_ref_over_tls(
    web_server: WebServer, site: Site, prod_repo: ProdRepo, ostree_pull: Callable[..., str]
) -> None:
    assert ostree_pull(web_server.port, ca=site.cert) == prod_repo.checksum


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST"])
def test_it_refuses_writes_to_the_repo_and_changes_nothing(
    web_server: WebServer, prod_repo: ProdRepo, method: str
) -> None:
    before = repo_state(prod_repo.repo)

    status, _, _ = https_request(web_server.port, method, "/repo/prod/summary", body=b"not a summary")
    new_status, _, _ = https_request(web_server.port, method, "/repo/prod/objects/new-file", body=b"x")

    expected_status, expected_new_status = WRITE_REFUSALS[web_server.name]
    assert status == expected_status
    assert new_status in expected_new_status
    assert repo_state(prod_repo.repo) == before


def test_objects_are_cached_for_a_year(web_server: WebServer, prod_repo: ProdRepo) -> None:
    commit_object = f"objects/{prod_repo.checksum[:2]}/{prod_repo.checksum[2:]}.commit"

    status, headers, _ = https_request(web_server.port, "GET", f"/repo/prod/{commit_object}")

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
def test_private_repo_files_and_listings_are_not_served(web_server: WebServer, prod_repo: ProdRepo, path: str) -> None:
    status, _, body = https_request(web_server.port, "GET", path)

    assert status in {403, 404}
    assert b"dotfile" not in body
    assert b"work in progress" not in body


def test_static_files_are_served_from_static_root(web_server: WebServer, site: Site) -> None:
    status, _, body = https_request(web_server.port, "GET", "/static/css/portal.css")

    assert status == 200
    assert body == (site.static_root / "css" / "portal.css").read_bytes()
