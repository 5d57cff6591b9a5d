"""The shipped nginx configuration, rendered for a temporary root and run by the real nginx.

What Apache and nginx must both do is in test_web_servers.py; this file holds what only nginx does.
"""

from __future__ import annotations

import pytest

from tests.deploy.conftest import ProdRepo, WebServer, https_request


@pytest.mark.parametrize("web_server", ["nginx"], indirect=True)
def test_the_summary_is_always_refetched_not_revalidated_by_mtime(web_server: WebServer, prod_repo: ProdRepo) -> None:
    body = (prod_repo.repo.path / "summary").read_bytes()

    status, headers, content = https_request(web_server.port, "GET", "/repo/prod/summary")
    # A client that cached the summary this very second still gets the full current file.
    again, _, again_content = https_request(
        web_server.port,
        "GET",
        "/repo/prod/summary",
        headers={"If-Modified-Since": "Fri, 31 Dec 2038 23:59:59 GMT"},
    )

    assert status == 200
    assert content == body
    assert headers["cache-control"] == "no-cache"
    assert "etag" not in headers
    assert again == 200
    assert again_content == body
