from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinoite_portal.fleet.status_parser import StatusError, parse_status
from tests.fleet.helpers import PROD_REF, deployment, fake_checksum, status_doc

HEAD = fake_checksum("head")
OLD = fake_checksum("old")
LOCAL = fake_checksum("local-layer")


def test_it_reads_booted_staged_and_rollback_in_rpm_ostree_order() -> None:
    doc = status_doc(
        deployment(fake_checksum("new"), version="41.20261201.0", staged=True),
        deployment(HEAD, booted=True),
        deployment(OLD, version="41.20261101.0"),
    )
    status = parse_status(doc)
    assert status.booted.checksum == HEAD
    assert status.booted.remote == "prod"
    assert status.booted.ref == PROD_REF
    assert status.staged is not None
    assert status.staged.version == "41.20261201.0"
    assert status.rollback is not None
    assert status.rollback.checksum == OLD
    assert status.booted.timestamp is not None
    assert status.booted.timestamp.year == 2025


def test_it_treats_a_pending_deployment_listed_before_the_booted_one_as_staged() -> None:
    status = parse_status(status_doc(deployment(fake_checksum("pending")), deployment(HEAD, booted=True)))
    assert status.staged is not None
    assert status.staged.checksum == fake_checksum("pending")
    assert status.rollback is None


def test_it_counts_a_layered_deployment_on_its_base_image() -> None:
    doc = booted_layered()
    status = parse_status(doc)
    assert status.booted.layered
    assert status.booted.checksum == LOCAL
    assert status.booted.image_checksum == HEAD
    assert status.booted.image_version == "41.20261125.0"
    assert status.booted.summary()["packages"] == ["htop", "vim-enhanced"]


def booted_layered() -> dict[str, Any]:
    return status_doc(
        deployment(LOCAL, booted=True, version="41.20261125.0", base_checksum=HEAD, packages=["htop", "vim-enhanced"])
    )


def test_it_reads_a_container_image_reference_instead_of_an_origin() -> None:
    ref = "ostree-unverified-registry:quay.io/fedora/fedora-kinoite:41"
    status = parse_status(status_doc(deployment(HEAD, booted=True, container=ref)))
    assert status.booted.is_container
    assert status.booted.container_image_reference == ref
    assert status.booted.ref == ""


def test_it_keeps_unknown_fields_and_reads_cached_update_and_update_driver() -> None:
    doc = status_doc(
        deployment(HEAD, booted=True, **{"future-field": {"x": 1}}),
        **{
            "cached-update": {
                "checksum": fake_checksum("next"),
                "version": "41.20261201.0",
                "origin": f"prod:{PROD_REF}",
            },
            "update-driver": {"driver-name": "zincati", "driver-sd-unit": "zincati.service"},
            "new-top-level": [1, 2],
        },
    )
    status = parse_status(doc)
    assert status.raw["new-top-level"] == [1, 2]
    assert status.booted.raw["future-field"] == {"x": 1}
    assert status.cached_update is not None
    assert status.cached_update["version"] == "41.20261201.0"
    assert status.update_driver == {"driver-name": "zincati", "driver-sd-unit": "zincati.service"}


def test_it_lowercases_checksums() -> None:
    assert parse_status(status_doc(deployment(HEAD.upper(), booted=True))).booted.checksum == HEAD


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(deployments=[]), "is empty"),
        (lambda d: d.pop("deployments"), "must be a list"),
        (lambda d: d["deployments"][0].update(checksum="z" * 64), "64 hexadecimal"),
        (lambda d: d["deployments"][0].update(checksum=HEAD[:40]), "64 hexadecimal"),
        (lambda d: d["deployments"][0].pop("checksum"), "'checksum' is missing"),
        (lambda d: d["deployments"][0].update({"base-checksum": "nothex"}), "'base-checksum' must be 64"),
        (lambda d: d["deployments"][0].update(booted=False), "exactly one deployment must be booted"),
        (lambda d: d["deployments"][0].update(booted="yes"), "'booted' must be true or false"),
        (lambda d: d["deployments"][0].update(timestamp="yesterday"), "seconds since the epoch"),
        (lambda d: d["deployments"][0].update(timestamp=10**30), "out of range"),
        (lambda d: d["deployments"][0].update(version=["41"]), "'version' must be a string"),
        (lambda d: d["deployments"][0].pop("origin"), "needs 'origin'"),
        (lambda d: d["deployments"][0].update(origin="x" * 600), "at most 500"),
        (lambda d: d.update({"cached-update": "soon"}), "'cached-update' must be an object"),
        (lambda d: d["deployments"].append("not an object"), "deployments[1] must be an object"),
    ],
)
def test_it_refuses_malformed_documents_with_a_clear_message(mutate: Any, message: str) -> None:
    doc = copy.deepcopy(status_doc(deployment(HEAD, booted=True)))
    mutate(doc)
    with pytest.raises(StatusError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_status(doc)


@pytest.mark.parametrize("doc", [None, [], "status", 42, {"deployments": {"0": {}}}])
def test_it_refuses_documents_that_are_not_a_status_object(doc: Any) -> None:
    with pytest.raises(StatusError):
        parse_status(doc)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=20,
)
deployment_keys = st.sampled_from(
    [
        "checksum",
        "version",
        "timestamp",
        "booted",
        "staged",
        "pinned",
        "origin",
        "container-image-reference",
        "base-checksum",
        "base-version",
    ]
)
random_deployment = st.dictionaries(
    deployment_keys, json_values | st.sampled_from([HEAD, True, False, f"prod:{PROD_REF}", 1764028800]), max_size=10
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    doc=json_values
    | st.fixed_dictionaries({"deployments": st.lists(random_deployment | json_values, max_size=4)})
    | st.fixed_dictionaries(
        {"deployments": st.lists(random_deployment, min_size=1, max_size=3)},
        optional={"cached-update": json_values, "update-driver": json_values},
    )
)
def test_random_documents_either_parse_into_valid_deployments_or_raise_status_error(doc: Any) -> None:
    status, message = None, ""
    try:
        status = parse_status(doc)
    except StatusError as exc:
        message = str(exc)
    if status is None:
        assert message  # refused, saying why
        return
    assert status.deployments
    assert sum(d.booted for d in status.deployments) == 1
    for d in status.deployments:
        assert len(d.image_checksum) == 64
        assert all(c in "0123456789abcdef" for c in d.image_checksum)
        assert d.origin or d.container_image_reference
