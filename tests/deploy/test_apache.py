"""The shipped Apache drop-in, rendered for a temporary root and run by Debian's apache2 in a RHEL-like layout.

What Apache and nginx must both do is in test_web_servers.py; this file holds what only Apache does.
"""

from __future__ import annotations

import os

import pytest

from tests.deploy.conftest import ProdRepo, WebServer, https_request


@pytest.mark.parametrize("web_server", ["apache"], indirect=True)
def test_the_summary_is_revalidated_by_its_content(web_server: WebServer, prod_repo: ProdRepo) -> None:
    port = web_server.port
    summary = prod_repo.repo.path / "summary"
    status, headers, body = https_request(port, "GET", "/repo/prod/summary")
    etag = headers["etag"]

    # Same content, new mtime: still "not modified".
    os.utime(summary, (1_900_000_000, 1_900_000_000))
    same, _, _ = https_request(port, "GET", "/repo/prod/summary", headers={"If-None-Match": etag})
    # New content of the same size, same mtime: a new ETag, and a date-only revalidation cannot hide it.
    summary.write_bytes(bytes(reversed(body)))
    os.utime(summary, (1_900_000_000, 1_900_000_000))
    changed, changed_headers, changed_body = https_request(
        port,
        "GET",
        "/repo/prod/summary",
        headers={"If-None-Match": etag, "If-Modified-Since": "Fri, 31 Dec 2038 23:59:59 GMT"},
    )
    by_date, _, _ = https_request(
        port, "GET", "/repo/prod/summary", headers={"If-Modified-Since": "Fri, 31 Dec 2038 23:59:59 GMT"}
    )

    assert status == 200
    assert headers["cache-control"] == "no-cache"
    assert same == 304
    assert changed == 200
    assert changed_body == bytes(reversed(body))
    assert changed_headers["etag"] != etag
    assert by_date == 200
