from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinoite_portal.fleet.models import CheckIn, Host
from kinoite_portal.fleet.services.checkins import checkin_history_trim_all
from kinoite_portal.fleet.services.enrollment import host_token_revoke
from tests.fleet.helpers import PROD_REF, booted_on, deployment, fake_checksum, machine_id, status_doc

URL = "/api/v1/checkin"
HEAD = fake_checksum("head")


def post(client: Client, token: str | None, body: Any, *, raw: bytes | None = None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = raw if raw is not None else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", **headers)


def report(name: str, status: Any = None, **extra: Any) -> dict[str, Any]:
    return {"hostname": name, "machine_id": machine_id(name), "status": status or booted_on(HEAD), **extra}


def snapshot() -> list[Any]:
    """Return everything a check-in may write: the hosts' rows and all check-ins."""
    return [list(Host.objects.order_by("pk").values()), list(CheckIn.objects.order_by("pk").values())]


@pytest.fixture
def host(finance: Any, enroll: Any) -> tuple[Host, str]:
    return enroll(finance, "fin-001")


def test_it_stores_the_latest_state_and_a_history_entry(host: tuple[Host, str], client: Client) -> None:
    doc = status_doc(
        deployment(fake_checksum("next"), version="41.20261201.0", staged=True),
        deployment(HEAD, booted=True),
        deployment(fake_checksum("old"), version="41.20261101.0"),
    )
    response = post(
        client,
        host[1],
        report("fin-001", doc, greenboot="green"),
    )
    assert response.status_code == 200, response.content
    saved = Host.objects.get(pk=host[0].pk)
    assert (saved.booted_checksum, saved.booted_version, saved.booted_ref, saved.booted_remote) == (
        HEAD,
        "41.20261125.0",
        PROD_REF,
        "prod",
    )
    assert saved.staged_version == "41.20261201.0"
    assert saved.rollback_checksum == fake_checksum("old")
    assert saved.health == "green"
    assert [d["booted"] for d in saved.deployments] == [False, True, False]
    checkin = CheckIn.objects.get(host=saved)
    assert checkin.report["status"] == doc
    assert checkin.remote_addr == "127.0.0.1"
    assert response.json()["checkin_id"] == checkin.pk


def test_it_stores_a_layered_host_on_its_base_image(host: tuple[Host, str], client: Client) -> None:
    doc = status_doc(deployment(fake_checksum("local"), booted=True, base_checksum=HEAD, packages=["htop"]))
    assert post(client, host[1], report("fin-001", doc)).status_code == 200
    saved = Host.objects.get(pk=host[0].pk)
    assert saved.booted_checksum == HEAD
    assert saved.booted_layered


def test_the_hourly_trim_brings_history_back_within_its_bound(
    host: tuple[Host, str], client: Client, settings: Any
) -> None:
    settings.PORTAL_CHECKIN_HISTORY = 3
    for _ in range(5):
        assert post(client, host[1], report("fin-001")).status_code == 200
    newest = list(CheckIn.objects.filter(host=host[0]).values_list("pk", flat=True)[:3])

    assert checkin_history_trim_all() == 2
    assert list(CheckIn.objects.filter(host=host[0]).values_list("pk", flat=True)) == newest


def test_it_refuses_a_body_over_the_limit_with_413_and_stores_nothing(
    host: tuple[Host, str], client: Client, settings: Any
) -> None:
    before = snapshot()
    body = report("fin-001", booted_on(HEAD, **{"padding": "x" * settings.PORTAL_CHECKIN_MAX_BYTES}))
    response = post(client, host[1], body)
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert snapshot() == before
    assert post(client, host[1], report("fin-001")).status_code == 200  # and it keeps serving


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"{not json", "malformed_json"),
        (b"[1, 2]", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b'{"hostname": NaN}', "malformed_json"),
        (b"[" * 100_000, "malformed_json"),
        (
            b'{"hostname": "fin-001", "machine_id": "x", "status": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
            "malformed_json",
        ),
        (json.dumps(report("fin-001")).encode()[:-1] + b', "extra": 1e400}', "malformed_json"),
        (json.dumps(report("fin-001")).encode()[:-1] + b', "extra": -1e400}', "malformed_json"),
        (json.dumps(report("fin-001")).encode()[:-1] + b', "extra": 1' + b"0" * 30 + b"}", "malformed_json"),
        (json.dumps({"machine_id": machine_id("fin-001"), "status": booted_on(HEAD)}).encode(), "missing_field"),
        (json.dumps({"hostname": "fin-001", "status": booted_on(HEAD)}).encode(), "missing_field"),
        (json.dumps({"hostname": "fin-001", "machine_id": machine_id("fin-001")}).encode(), "missing_field"),
        (
            json.dumps({"hostname": "fin 001;rm", "machine_id": machine_id("fin-001"), "status": {}}).encode(),
            "invalid_field",
        ),
        (json.dumps(report("fin-001", greenboot="blue")).encode(), "invalid_field"),
        (json.dumps(report("fin-001", status_doc())).encode(), "invalid_status"),
        (json.dumps(report("fin-001", booted_on("g" * 64))).encode(), "invalid_status"),
        (json.dumps(report("fin-001", booted_on(HEAD, version="41\u0000"))).encode(), "malformed_json"),
        (b'{"hostname": "fin-001", "machine_id": "x", "status": "\\ud800"}', "malformed_json"),
    ],
)
def test_it_refuses_malformed_reports_with_400_and_stores_nothing(
    host: tuple[Host, str], client: Client, raw: bytes, error: str
) -> None:
    before = snapshot()
    response = post(client, host[1], None, raw=raw)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == error
    assert response.json()["detail"]
    assert snapshot() == before
    assert post(client, host[1], report("fin-001")).status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer ", "Basic abc", "Bearer kph_forged-token-that-was-never-issued"])
def test_it_refuses_missing_or_forged_tokens_with_401(
    host: tuple[Host, str], client: Client, header: str | None
) -> None:
    before = snapshot()
    headers = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.post(URL, data=json.dumps(report("fin-001")), content_type="application/json", **headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert snapshot() == before


def test_it_refuses_the_token_of_another_host_with_403(
    host: tuple[Host, str], finance: Any, enroll: Any, client: Client
) -> None:
    _, other_token = enroll(finance, "fin-002")
    before = snapshot()
    response = post(client, other_token, report("fin-001"))
    assert response.status_code == 403
    assert response.json()["error"] == "wrong_host"
    assert snapshot() == before


def test_it_refuses_a_revoked_host_token_with_403(host: tuple[Host, str], client: Client) -> None:
    host_token_revoke(host=host[0])
    before = snapshot()
    response = post(client, host[1], report("fin-001"))
    assert response.status_code == 403
    assert response.json()["error"] == "revoked"
    assert snapshot() == before


def test_it_answers_405_in_json_to_other_methods(host: tuple[Host, str], client: Client) -> None:
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {host[1]}")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"] == "method_not_allowed"


def test_it_needs_no_csrf_token_because_it_is_token_authenticated(host: tuple[Host, str]) -> None:
    client = Client(enforce_csrf_checks=True)
    assert post(client, host[1], report("fin-001")).status_code == 200


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=15,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    status=json_values
    | st.fixed_dictionaries({"deployments": st.lists(json_values, max_size=3)})
    | st.fixed_dictionaries(
        {
            "deployments": st.lists(
                st.dictionaries(
                    st.sampled_from(["checksum", "booted", "origin", "base-checksum", "timestamp"]),
                    json_values | st.just(HEAD) | st.just(True),
                    max_size=5,
                ),
                min_size=1,
                max_size=2,
            )
        }
    ),
    greenboot=st.none() | st.sampled_from(["green", "red", "purple"]),
)
def test_random_status_documents_never_cause_a_500_and_errors_store_nothing(
    host: tuple[Host, str], status: Any, greenboot: Any
) -> None:
    client = Client()
    before = snapshot()
    response = post(
        client,
        host[1],
        report("fin-001", status, greenboot=greenboot)
        if status is not None
        else {"hostname": "fin-001", "machine_id": machine_id("fin-001"), "status": None},
    )
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert response.json()["error"] in {"invalid_status", "invalid_field", "malformed_json"}
        assert snapshot() == before
    else:
        assert CheckIn.objects.count() == len(before[1]) + 1
