from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext


@pytest.mark.django_db
def test_it_answers_ok_without_sign_in_or_database_queries(client: Client) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/livez")

    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Content-Type"].startswith("text/plain")
    assert len(queries) == 0


@pytest.mark.django_db
def test_it_refuses_anything_but_get(client: Client) -> None:
    response = client.post("/livez")

    assert response.status_code == 405
