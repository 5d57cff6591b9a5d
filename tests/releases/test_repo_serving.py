"""/repo/<stage>/: a stage's repo served read-only on a first run (no Apache or nginx in front)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from kinoite_portal.releases.models import Stage


@pytest.fixture
def dev(stages: dict[str, Stage], settings) -> Stage:
    settings.PORTAL_SERVE_FILES = True
    return stages["dev"]


def test_it_serves_the_summary_to_anonymous_clients_and_answers_304_for_its_etag(dev: Stage) -> None:
    (dev.repo_dir / "summary").write_bytes(b"summary v1")
    client = Client()

    first = client.get("/repo/dev/summary")
    etag = first["ETag"]

    assert first.status_code == 200
    assert b"".join(first) == b"summary v1"
    assert first["Cache-Control"] == "no-cache"
    assert client.get("/repo/dev/summary", HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get("/repo/dev/summary", HTTP_IF_NONE_MATCH=f'"other", {etag}').status_code == 304
    assert client.get("/repo/dev/summary", HTTP_IF_NONE_MATCH="*").status_code == 304
    assert client.get("/repo/dev/summary", HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_a_summary_rewritten_with_the_same_size_gets_a_new_etag(dev: Stage) -> None:
    summary = dev.repo_dir / "summary"
    summary.write_bytes(b"summary v1")
    client = Client()
    etag = client.get("/repo/dev/summary")["ETag"]

    summary.write_bytes(b"summary v2")
    response = client.get("/repo/dev/summary", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 200
    assert response["ETag"] != etag
    assert b"".join(response) == b"summary v2"


def test_head_answers_the_headers_of_get(dev: Stage) -> None:
    response = Client().head("/repo/dev/config")

    assert response.status_code == 200
    assert response["ETag"].startswith('"')
    assert Client().post("/repo/dev/config").status_code == 405


def test_objects_are_cached_forever_and_refs_are_revalidated(dev: Stage) -> None:
    (dev.repo_dir / "objects" / "ab").mkdir(parents=True, exist_ok=True)
    (dev.repo_dir / "objects" / "ab" / "cdef.commit").write_bytes(b"commit")
    (dev.repo_dir / "refs" / "heads" / "kinoite").parent.mkdir(parents=True, exist_ok=True)
    (dev.repo_dir / "refs" / "heads" / "kinoite").write_text("ab" * 32)
    client = Client()

    assert client.get("/repo/dev/objects/ab/cdef.commit")["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/repo/dev/refs/heads/kinoite")["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "tmp/private.txt",
        "state/x",
        ".lock",
        "objects/.hidden",
        "objects/../config",
        "objects/%2e%2e/%2e%2e/secret.txt",
        "refs/heads/../../../secret.txt",
        "/etc/passwd",
        "objects/escape",
        "objects",
        "missing",
    ],
)
def test_it_refuses_anything_but_files_a_client_needs(dev: Stage, path: str) -> None:
    (dev.repo_dir.parent / "secret.txt").write_text("secret")
    (dev.repo_dir / "tmp" / "private.txt").write_text("private")
    (dev.repo_dir / ".lock").write_text("")
    escape = dev.repo_dir / "objects" / "escape"
    if not escape.is_symlink():
        escape.symlink_to(dev.repo_dir.parent / "secret.txt")

    assert Client().get(f"/repo/dev/{path}").status_code == 404


def test_nothing_is_served_when_the_web_server_serves_the_repos(stages: dict[str, Stage], settings) -> None:
    settings.PORTAL_SERVE_FILES = False
    assert Path(stages["dev"].repo_dir / "config").is_file()
    assert Client().get("/repo/dev/config").status_code == 404
