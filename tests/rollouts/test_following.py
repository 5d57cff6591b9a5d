"""Desktops follow their ring: the check-in answer names the ref, the agent reports health and rebases."""

from __future__ import annotations

import importlib.machinery
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from kinoite_portal.fleet.models import CheckIn, Department, Host
from kinoite_portal.fleet.services.enrollment import enrollment_token_create, host_enroll
from kinoite_portal.releases.models import Commit, Stage, Treefile
from kinoite_portal.releases.services.commits import ref_move
from kinoite_portal.rollouts.models import Ring
from tests.fleet.helpers import (
    PROD_IMAGE,
    PROD_REF,
    bootc_doc,
    bootc_entry,
    booted_on,
    deployment,
    fake_checksum,
    machine_id,
    status_doc,
)

AGENT = Path(settings.BASE_DIR) / "deploy" / "client" / "kinoite-portal-agent"
PILOT = f"{PROD_REF}-pilot"


def load_agent() -> types.ModuleType:
    loader = importlib.machinery.SourceFileLoader("kinoite_portal_agent", str(AGENT))
    agent = types.ModuleType(loader.name)
    loader.exec_module(agent)
    return agent


def enroll(department: Department, name: str) -> str:
    token = enrollment_token_create(department=department, name=name)
    return host_enroll(raw_token=token.raw, hostname=name, machine_id=machine_id(name)).raw


def checkin(token: str, name: str, status: Any = None, **extra: Any) -> Any:
    body = {
        "hostname": name,
        "machine_id": machine_id(name),
        "status": status or booted_on(fake_checksum("old")),
        **extra,
    }
    return Client().post(
        "/api/v1/checkin", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


@pytest.fixture
def prod_with_rings(db: None) -> dict[str, Any]:
    Stage.objects.create(name="dev", order=0, repo_path="dev")
    prod = Stage.objects.create(name="prod", order=1, repo_path="prod")
    Treefile.objects.create(name="kinoite", content={"ref": "fedora/x86_64/kinoite/dev"}, published_ref=PROD_REF)
    it = Department.objects.create(name="IT", slug="it")
    sales = Department.objects.create(name="Sales", slug="sales")
    pilot = Ring.objects.create(stage=prod, name="pilot", order=1)
    pilot.departments.add(it)
    Ring.objects.create(stage=prod, name="broad", order=2)
    return {"prod": prod, "it": it, "sales": sales}


def test_the_answer_names_the_rings_ref_once_it_exists_and_the_stage_ref_before(
    prod_with_rings: dict[str, Any],
) -> None:
    token = enroll(prod_with_rings["it"], "it-001")

    assert checkin(token, "it-001").json()["follow_ref"] == PROD_REF
    commit = Commit.objects.create(checksum=fake_checksum("new"), timestamp="2026-11-25T00:00:00Z")
    ref_move(stage=prod_with_rings["prod"], ref_name=PILOT, commit=commit, source="rollout")

    assert checkin(token, "it-001").json()["follow_ref"] == PILOT
    # A host of a department in no ring is in the last ring, whose ref does not exist yet.
    assert checkin(enroll(prod_with_rings["sales"], "sales-001"), "sales-001").json()["follow_ref"] == PROD_REF


def test_hosts_following_another_source_or_a_stage_without_rings_get_no_ref_to_follow(
    prod_with_rings: dict[str, Any],
) -> None:
    token = enroll(prod_with_rings["it"], "it-001")
    dev = booted_on(fake_checksum("old"), origin="dev:fedora/x86_64/kinoite/dev")
    container = booted_on(fake_checksum("old"), origin=None, container="ostree-image-signed:docker://quay.io/x")

    assert "follow_ref" not in checkin(token, "it-001", dev).json()
    assert "follow_ref" not in checkin(token, "it-001", container).json()
    Ring.objects.all().delete()
    assert "follow_ref" not in checkin(token, "it-001").json()


def test_the_check_in_stores_greenboots_verdict_and_whether_the_booted_deployment_is_the_default(
    prod_with_rings: dict[str, Any],
) -> None:
    token = enroll(prod_with_rings["it"], "it-001")
    fell_back = status_doc(deployment(fake_checksum("new")), deployment(fake_checksum("old"), booted=True))

    assert checkin(token, "it-001", fell_back, greenboot="fallback").status_code == 200
    host = Host.objects.get()
    assert (host.health, host.booted_default, host.staged_checksum) == ("fallback", False, fake_checksum("new"))
    staged = status_doc(deployment(fake_checksum("new"), staged=True), deployment(fake_checksum("old"), booted=True))
    checkin(token, "it-001", staged, greenboot="green")
    host.refresh_from_db()
    assert (host.health, host.booted_default) == ("green", True)


@pytest.mark.parametrize(("field", "value"), [("greenboot", "yellow"), ("booted_default", "yes")])
def test_a_bad_health_field_gets_400_and_stores_nothing(
    prod_with_rings: dict[str, Any], field: str, value: str
) -> None:
    token = enroll(prod_with_rings["it"], "it-001")
    before = list(Host.objects.values()), CheckIn.objects.count()

    answer = checkin(token, "it-001", **{field: value})

    assert answer.status_code == 400
    assert field in answer.json()["detail"]
    assert (list(Host.objects.values()), CheckIn.objects.count()) == before


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("Boot Status is GREEN - Health Check SUCCESS\n", "green"),
        ("Boot Status is RED - Health Check FAILURE!\n", "red"),
        ("FALLBACK BOOT DETECTED! Default rpm-ostree deployment has been rolled back.\n", "fallback"),
        ("Welcome to Kinoite\n", None),
    ],
)
def test_the_agent_reads_greenboots_verdict_from_its_motd_file(tmp_path: Path, text: str, verdict: str | None) -> None:
    agent = load_agent()
    missing, written = tmp_path / "run-boot-status", tmp_path / "etc-boot-status"
    written.write_text(text)
    config = {"BOOT_STATUS_FILES": f"{missing} {written}", "GREENBOOT": "auto"}

    assert agent.boot_status_verdict(text) == verdict
    if verdict is not None:
        assert agent.greenboot_state(config) == verdict


def test_the_agent_tells_a_fallback_boot_from_a_staged_update() -> None:
    agent = load_agent()
    new, old = fake_checksum("new"), fake_checksum("old")

    assert agent.booted_is_default(booted_on(old)) is True
    assert agent.booted_is_default(status_doc(deployment(new, staged=True), deployment(old, booted=True))) is True
    assert agent.booted_is_default(status_doc(deployment(new), deployment(old, booted=True))) is False


def test_the_agent_rebases_to_the_named_ref_with_its_remote_once(tmp_path: Path) -> None:
    agent = load_agent()
    calls = tmp_path / "calls.jsonl"
    # A stand-in for `rpm-ostree rebase` (rpm-ostree cannot run here): it records the arguments it gets.
    recorder = tmp_path / "rebase.py"
    recorder.write_text(f"import json, sys\nopen({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    config = {"REBASE_COMMAND": f"{sys.executable} {recorder}"}
    on_stable = booted_on(fake_checksum("old"), origin=f"corp:{PROD_REF}")
    rebased = status_doc(
        deployment(fake_checksum("old"), staged=True, origin=f"corp:{PILOT}"),
        deployment(fake_checksum("old"), booted=True, origin=f"corp:{PROD_REF}"),
    )

    assert agent.follow(config, on_stable, PILOT) == f"rebased to corp:{PILOT} (applies at the next boot)"
    assert agent.follow(config, rebased, PILOT) is None  # already staged on the new origin
    assert agent.follow(config, on_stable, PROD_REF) is None
    assert agent.follow(config, on_stable, "../etc; rm -rf /") is None
    assert agent.follow({**config, "REBASE": "off"}, on_stable, PILOT) is None
    assert [json.loads(line) for line in calls.read_text().splitlines()] == [[f"corp:{PILOT}"]]


def test_a_bootc_desktop_switches_to_the_named_tag_of_its_image_repository_once(tmp_path: Path) -> None:
    agent = load_agent()
    calls = tmp_path / "calls.jsonl"
    # A stand-in for `bootc switch` (bootc cannot run here): it records the arguments it gets.
    recorder = tmp_path / "switch.py"
    recorder.write_text(f"import json, sys\nopen({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    config = {"SWITCH_COMMAND": f"{sys.executable} {recorder} switch --enforce-container-sigpolicy"}
    on_stable = bootc_doc(bootc_entry(fake_checksum("old"), image=f"{PROD_IMAGE}:stable"))
    # bootc's spec names the new tag as soon as it switched, before the reboot.
    switched = bootc_doc(
        bootc_entry(fake_checksum("old"), image=f"{PROD_IMAGE}:stable"),
        spec_image={"image": f"{PROD_IMAGE}:stable-pilot", "transport": "registry"},
    )
    by_digest = bootc_doc(bootc_entry(fake_checksum("old"), image=f"{PROD_IMAGE}@sha256:{fake_checksum('old')}"))
    not_deployed_by_bootc = bootc_doc(None)

    assert agent.follow_bootc(config, on_stable, "stable-pilot") == (
        f"switched to {PROD_IMAGE}:stable-pilot (applies at the next boot)"
    )
    assert agent.follow_bootc(config, switched, "stable-pilot") is None
    assert agent.follow_bootc(config, on_stable, "stable") is None
    assert agent.follow_bootc(config, on_stable, "../etc; rm -rf /") is None
    assert agent.follow_bootc(config, on_stable, "stable/pilot") is None  # an ostree ref, not a tag
    assert agent.follow_bootc({**config, "REBASE": "off"}, on_stable, "stable-pilot") is None
    assert agent.follow_bootc(config, not_deployed_by_bootc, "stable-pilot") is None
    assert agent.follow_bootc(config, by_digest, "stable-pilot") == (
        f"switched to {PROD_IMAGE}:stable-pilot (applies at the next boot)"
    )
    assert [json.loads(line) for line in calls.read_text().splitlines()] == [
        ["switch", "--enforce-container-sigpolicy", f"{PROD_IMAGE}:stable-pilot"],
        ["switch", "--enforce-container-sigpolicy", f"{PROD_IMAGE}:stable-pilot"],
    ]


def test_a_failing_bootc_switch_is_a_local_error_naming_the_command(tmp_path: Path) -> None:
    agent = load_agent()
    failing = tmp_path / "switch.py"
    failing.write_text("import sys\nsys.stderr.write('Source image rejected: signature not accepted')\nsys.exit(1)\n")
    config = {"SWITCH_COMMAND": f"{sys.executable} {failing} switch"}
    on_stable = bootc_doc(bootc_entry(fake_checksum("old"), image=f"{PROD_IMAGE}:stable"))

    with pytest.raises(agent.LocalError, match="Source image rejected"):
        agent.follow_bootc(config, on_stable, "stable-pilot")


@pytest.fixture
def oci_prod_with_rings(db: None) -> dict[str, Any]:
    registry, repository = "registry.example.com", "prod/kinoite"
    Stage.objects.create(name="dev", order=0, kind=Stage.Kind.OCI, image_registry=registry, image_repository="dev/k")
    prod = Stage.objects.create(
        name="prod", order=1, kind=Stage.Kind.OCI, image_registry=registry, image_repository=repository
    )
    Treefile.objects.create(
        name="kinoite-bootc",
        kind=Treefile.Kind.CONTAINERFILE,
        content={"tag": "latest", "containerfile": "FROM scratch\n", "releasever": 41, "context": {}},
        published_ref="stable",
    )
    it = Department.objects.create(name="IT", slug="it")
    Ring.objects.create(stage=prod, name="pilot", order=1).departments.add(it)
    Ring.objects.create(stage=prod, name="broad", order=2)
    image = Commit.objects.create(checksum=fake_checksum("image"), version="41.1", timestamp="2026-11-25T00:00Z")
    for tag in ("stable", "stable-pilot"):
        ref_move(stage=prod, ref_name=tag, commit=image, source="import")
    return {"prod": prod, "it": it, "image": f"{registry}/{repository}"}


def test_a_bootc_desktop_of_the_oci_stage_is_told_its_rings_tag_and_other_images_are_left_alone(
    oci_prod_with_rings: dict[str, Any],
) -> None:
    image = oci_prod_with_rings["image"]
    token = enroll(oci_prod_with_rings["it"], "it-001")
    ours = bootc_doc(bootc_entry(fake_checksum("image"), image=f"{image}:stable"))
    other = bootc_doc(bootc_entry(fake_checksum("image"), image="quay.io/fedora/fedora-bootc:stable"))

    def bootc_checkin(doc: dict[str, Any]) -> Any:
        body = {"hostname": "it-001", "machine_id": machine_id("it-001"), "bootc": doc}  # no rpm-ostree status
        return Client().post(
            "/api/v1/checkin", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )

    answer = bootc_checkin(ours)
    assert answer.status_code == 200, answer.content
    assert answer.json()["follow_ref"] == "stable-pilot"
    answer = bootc_checkin(other)
    assert answer.status_code == 200, answer.content
    assert "follow_ref" not in answer.json()


def test_an_rpm_ostree_desktop_booted_from_a_registry_image_rebases_to_the_named_tag_keeping_its_transport(
    tmp_path: Path,
) -> None:
    agent = load_agent()
    calls = tmp_path / "calls.jsonl"
    # A stand-in for `rpm-ostree rebase` (rpm-ostree cannot run here): it records the arguments it gets.
    recorder = tmp_path / "rebase.py"
    recorder.write_text(f"import json, sys\nopen({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    config = {"REBASE_COMMAND": f"{sys.executable} {recorder}"}
    signed = f"ostree-image-signed:docker://{PROD_IMAGE}"
    on_stable = status_doc(deployment(fake_checksum("old"), booted=True, container=f"{signed}:stable"))
    staged = status_doc(
        deployment(fake_checksum("old"), staged=True, container=f"{signed}:stable-pilot"),
        deployment(fake_checksum("old"), booted=True, container=f"{signed}:stable"),
    )
    from_archive = status_doc(deployment(fake_checksum("old"), booted=True, container="ostree-unverified-image:oci:/x"))

    assert agent.follow(config, on_stable, "stable-pilot") == (
        f"rebased to {signed}:stable-pilot (applies at the next boot)"
    )
    assert agent.follow(config, staged, "stable-pilot") is None
    assert agent.follow(config, on_stable, "stable") is None
    assert agent.follow(config, on_stable, "stable/pilot") is None
    assert agent.follow(config, from_archive, "stable-pilot") is None
    assert [json.loads(line) for line in calls.read_text().splitlines()] == [[f"{signed}:stable-pilot"]]
