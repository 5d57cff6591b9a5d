"""An image promoted into an OCI stage with rings reaches the fleet tag by tag, on real parts.

A real registry (docker-registry), real skopeo and gpg signing for each ring's tag, the live portal serving the
signatures at /sigstore/, a real Celery worker doing the promotion, the gate evaluations (queued by check-ins) and
the ring moves, and the real agent from deploy/client. bootc cannot run on the test machine: the agent runs a fake
``bootc`` (tests/fleet/fake_bootc.py) whose ``switch --enforce-container-sigpolicy`` pulls the image with the
desktop's generated trust policy through the real skopeo, so a tag without a signature for it fails the switch.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.fleet.client_setup import oci_policy, oci_registries_d
from kinoite_portal.fleet.models import Department, Host
from kinoite_portal.fleet.services.enrollment import enrollment_token_create
from kinoite_portal.oci.registry import ImageRepo, Skopeo
from kinoite_portal.releases.models import Commit, Promotion, RefUpdate, Stage
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.images import image_record
from kinoite_portal.releases.services.promotions import promotion_request
from kinoite_portal.rollouts.models import Ring, Rollout, RolloutRing
from kinoite_portal.rollouts.services.rollouts import rollout_rollback
from kinoite_portal.rollouts.triggers import ROLLING_OUT_SECONDS
from tests.fleet.helpers import bootc_doc, bootc_entry, machine_id
from tests.fleet.test_agent import AGENT
from tests.oci_registry import Registry, push_dev_image
from tests.rollouts.conftest import GREEN, RED
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

FAKE_BOOTC = Path(__file__).parents[1] / "fleet" / "fake_bootc.py"


@dataclass
class Trust:
    """A desktop's trust files, exactly as the client setup page generates them."""

    policy: Path
    registries_d: Path

    def pull(self, image: str, out: Path) -> subprocess.CompletedProcess[str]:
        """Pull ``image`` as a desktop's verifying pull does; the manifest lands in ``out``."""
        return subprocess.run(
            [
                *("skopeo", "--policy", str(self.policy), "--registries.d", str(self.registries_d), "copy"),
                *("--src-tls-verify=false", f"docker://{image}", f"dir:{out}"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )

    def pulled_digest(self, image: str, out: Path) -> str:
        result = self.pull(image, out)
        assert result.returncode == 0, result.stderr
        return hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()


@dataclass
class BootcDesktop:
    """A bootc desktop without rpm-ostree: its recorded ``bootc status``, greenboot's verdict, the agent's config."""

    name: str
    status: Path
    boot_status: Path
    config: Path
    env: dict[str, str]

    def agent(self) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(AGENT), str(self.config)], capture_output=True, text=True, timeout=180, env=self.env, check=False
        )
        assert result.returncode == 0, f"{self.name}: {result.stderr}"
        return result

    def reboot(self, verdict: str) -> None:
        """Boot the staged image (the switch staged it), with greenboot's ``verdict`` about that boot."""
        doc = json.loads(self.status.read_text())
        staged = doc["status"]["staged"]
        assert staged is not None, f"{self.name} has nothing staged"
        doc["status"].update(booted=staged, staged=None, rollback=doc["status"]["booted"])
        self.status.write_text(json.dumps(doc))
        self.boot_status.write_text(verdict)

    def switches(self) -> list[str]:
        path = Path(f"{self.status}.switches")
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def trust(signed_oci_prod: Stage, live_server: Any, settings: Any, tmp_path: Path) -> Trust:
    settings.PORTAL_PUBLIC_URL = live_server.url
    folder = tmp_path / "trust"
    (folder / "registries.d").mkdir(parents=True)
    key_path = folder / "prod.asc"
    with urllib.request.urlopen(live_server.url + reverse("releases:stage_public_key", args=["prod"])) as answer:
        key_path.write_bytes(answer.read())
    (folder / "policy.json").write_text(json.dumps(oci_policy(signed_oci_prod, key_path=str(key_path))))
    (folder / "registries.d" / "kinoite-portal-prod.yaml").write_text(oci_registries_d(signed_oci_prod))
    return Trust(policy=folder / "policy.json", registries_d=folder / "registries.d")


@pytest.fixture
def make_bootc_desktop(tmp_path: Path, live_server: Any, trust: Trust, signed_oci_prod: Stage) -> Any:
    def make(name: str, department: Department, digest: str, tag: str = "stable") -> BootcDesktop:
        root = tmp_path / "desktops" / name
        root.mkdir(parents=True)
        image = f"{signed_oci_prod.image_registry}/{signed_oci_prod.image_repository}:{tag}"
        status = root / "bootc-status.json"
        status.write_text(json.dumps(bootc_doc(bootc_entry(digest, image=image))))
        (root / "machine-id").write_text(machine_id(name) + "\n")
        boot_status = root / "boot-status"
        boot_status.write_text(GREEN)
        bootc = f"{sys.executable} {FAKE_BOOTC}"
        config = root / "agent.conf"
        config.write_text(
            f"URL={live_server.url}\n"
            f"ENROLLMENT_TOKEN={enrollment_token_create(department=department, name=name).raw}\n"
            f"STATUS_COMMAND={root / 'no-rpm-ostree'} status --json\n"
            f"BOOTC_STATUS_COMMAND={bootc} status --json\n"
            f"SWITCH_COMMAND={bootc} switch --enforce-container-sigpolicy\n"
            f"BOOT_STATUS_FILES={boot_status}\n"
            f"MACHINE_ID_FILE={root / 'machine-id'}\n"
            "ATTEMPTS=2\nTIMEOUT=60\n"
        )
        env = {
            **os.environ,
            "FAKE_BOOTC_STATUS": str(status),
            "FAKE_BOOTC_POLICY": str(trust.policy),
            "FAKE_BOOTC_REGISTRIES_D": str(trust.registries_d),
            "FAKE_BOOTC_TLS_VERIFY": "false",
        }
        return BootcDesktop(name=name, status=status, boot_status=boot_status, config=config, env=env)

    return make


def publish(commit: Commit, engineer: Any, approver: Any) -> Promotion:
    """Request and approve a promotion of ``commit``; wait for the worker to finish it."""
    promotion = promotion_request(user=engineer, checksum=commit.checksum)
    approval_grant(user=approver, promotion=promotion)
    wait_until(
        lambda: Promotion.objects.get(pk=promotion.pk).state in Promotion.FINISHED_STATES,
        timeout=120,
        message="promotion finished",
    )
    promotion.refresh_from_db()
    assert promotion.state == Promotion.State.SUCCEEDED, promotion.log
    return promotion


def dev_image(registry: Registry, tmp_path: Path, dev: Stage, version: str) -> Commit:
    push_dev_image(registry, tmp_path / version, version=version)
    commit = image_record(stage=dev, tag="latest")
    assert commit is not None
    return commit


def ring_state(rollout: Rollout, name: str) -> str:
    return RolloutRing.objects.get(rollout=rollout, name=name).state


@pytest.fixture
def rings_and_images(
    oci_stages: dict[str, Stage],
    signed_oci_prod: Stage,
    containerfile: Any,
    oci_registry: Registry,
    tmp_path: Path,
    release_engineer: Any,
    approver: Any,
    celery_worker: Any,
) -> dict[str, Any]:
    """prod:stable holds the old image (published before prod had rings); then rings pilot (IT) and broad."""
    (tmp_path / "images").mkdir()
    old = publish(
        dev_image(oci_registry, tmp_path / "images", oci_stages["dev"], "41.20261101.0"), release_engineer, approver
    )
    it = Department.objects.create(name="IT", slug="it")
    sales = Department.objects.create(name="Sales", slug="sales")
    Ring.objects.create(stage=signed_oci_prod, name="pilot", order=1, soak_time=timedelta(0)).departments.add(it)
    Ring.objects.create(stage=signed_oci_prod, name="broad", order=2, soak_time=timedelta(0))
    new = dev_image(oci_registry, tmp_path / "images", oci_stages["dev"], "41.20261125.0")
    prod = ImageRepo(oci_registry.host, "prod/kinoite", tls_verify=False)
    return {"old": old.commit, "new": new, "it": it, "sales": sales, "prod": prod}


def test_a_promoted_image_moves_the_pilot_tag_only_and_the_next_tag_once_the_pilot_booted_it_green(
    rings_and_images: dict[str, Any],
    signed_oci_prod: Stage,
    make_bootc_desktop: Any,
    trust: Trust,
    tmp_path: Path,
    release_engineer: Any,
    approver: Any,
    celery_worker: Any,
) -> None:
    old, new, prod = rings_and_images["old"], rings_and_images["new"], rings_and_images["prod"]
    skopeo = Skopeo()
    pilot = make_bootc_desktop("it-001", rings_and_images["it"], old.checksum)
    broad = make_bootc_desktop("sales-001", rings_and_images["sales"], old.checksum)
    for desktop in (pilot, broad):
        desktop.agent()
    assert pilot.switches() == []  # the pilot tag does not exist yet: the stage tag holds the same image

    promotion = publish(new, release_engineer, approver)
    # The worker started the rollout; the check-in server sees it within ROLLING_OUT_SECONDS.
    time.sleep(ROLLING_OUT_SECONDS)

    assert promotion.moved_ref == "stable-pilot"
    assert promotion.bound_refs == ["stable-broad", "stable"]
    assert skopeo.resolve(prod, "stable-pilot") == f"sha256:{new.checksum}"
    assert skopeo.resolve(prod, "stable-broad") is None
    assert skopeo.resolve(prod, "stable") == f"sha256:{old.checksum}"
    # A desktop's verifying pull: the pilot tag gives the new image (signed for that tag), the stage tag the old.
    assert trust.pulled_digest(f"{prod.name}:stable-pilot", tmp_path / "pull-pilot") == new.checksum
    assert trust.pulled_digest(f"{prod.name}:stable", tmp_path / "pull-stable") == old.checksum
    rollout = Rollout.objects.get(promotion=promotion)
    assert [(r.name, r.state) for r in rollout.rings.order_by("order")] == [("pilot", "moved"), ("broad", "waiting")]

    # The pilot is told to follow the pilot tag and switches (verified against its policy); broad stays.
    assert f"switched to {prod.name}:stable-pilot" in pilot.agent().stderr
    assert pilot.switches() == [f"switch --enforce-container-sigpolicy {prod.name}:stable-pilot"]
    broad.agent()
    assert broad.switches() == []
    pilot.reboot(GREEN)
    host = Host.objects.get(machine_id=machine_id("it-001"))
    pilot.agent()  # booted the new digest, greenboot GREEN: the check-in queues a gate evaluation
    host.refresh_from_db()
    assert (host.booted_checksum, host.booted_ref) == (new.checksum, "stable-pilot")

    try:
        wait_until(lambda: ring_state(rollout, "broad") == RolloutRing.State.MOVED, timeout=90, message="broad moved")
    except TimeoutError as exc:
        raise AssertionError(f"the broad ring did not move; worker log:\n{celery_worker.log()[-4000:]}") from exc
    # The last ring moves its tag and the stage tag, each signed for itself: the verifying pulls accept both.
    assert skopeo.resolve(prod, "stable-broad") == skopeo.resolve(prod, "stable") == f"sha256:{new.checksum}"
    assert trust.pulled_digest(f"{prod.name}:stable-broad", tmp_path / "pull-broad") == new.checksum
    assert trust.pulled_digest(f"{prod.name}:stable", tmp_path / "pull-stable-2") == new.checksum
    moves = RefUpdate.objects.filter(source=RefUpdate.Source.ROLLOUT, commit=new)
    assert sorted(moves.values_list("ref__name", flat=True)) == ["stable", "stable-broad"]
    event = AuditEvent.objects.get(action="rollout.move", object_id=str(rollout.pk))
    assert any("--sign-by" in command and "stable-broad" in command for command in event.commands)
    assert f"switched to {prod.name}:stable-broad" in broad.agent().stderr
    broad.reboot(GREEN)
    broad.agent()
    wait_until(
        lambda: Rollout.objects.get(pk=rollout.pk).state == Rollout.State.COMPLETED, timeout=90, message="completed"
    )


def test_a_pilot_booted_red_halts_the_rollout_the_next_tag_stays_and_the_rollback_re_signs_the_old_image(
    rings_and_images: dict[str, Any],
    signed_oci_prod: Stage,
    make_bootc_desktop: Any,
    trust: Trust,
    tmp_path: Path,
    release_engineer: Any,
    approver: Any,
    celery_worker: Any,
) -> None:
    old, new, prod = rings_and_images["old"], rings_and_images["new"], rings_and_images["prod"]
    skopeo = Skopeo()
    pilot = make_bootc_desktop("it-001", rings_and_images["it"], old.checksum)
    pilot.agent()
    promotion = publish(new, release_engineer, approver)
    time.sleep(ROLLING_OUT_SECONDS)
    pilot.agent()  # switches to the pilot tag
    pilot.reboot(RED)
    pilot.agent()

    rollout = Rollout.objects.get(promotion=promotion)
    wait_until(lambda: Rollout.objects.get(pk=rollout.pk).state == Rollout.State.HALTED, timeout=90, message="halt")
    rollout.refresh_from_db()
    assert "1 of 1 active hosts of the pilot ring failed" in rollout.halt_reason
    assert ring_state(rollout, "broad") == RolloutRing.State.WAITING
    assert skopeo.resolve(prod, "stable-broad") is None
    assert skopeo.resolve(prod, "stable") == f"sha256:{old.checksum}"
    assert trust.pulled_digest(f"{prod.name}:stable", tmp_path / "pull-stable") == old.checksum

    # The forward rollback of the pilot ring: approved as usual; the worker re-tags the old digest, signed for the
    # pilot tag (it was only ever signed for the stage tag), so the verifying pull of the pilot tag accepts it.
    (rollback,) = rollout_rollback(user=release_engineer, rollout=rollout)
    assert rollback.target_ref == "stable-pilot"
    approval_grant(user=approver, promotion=rollback)
    wait_until(
        lambda: Promotion.objects.get(pk=rollback.pk).state in Promotion.FINISHED_STATES,
        timeout=120,
        message="rollback",
    )
    rollback.refresh_from_db()
    assert rollback.state == Promotion.State.SUCCEEDED, rollback.log
    assert skopeo.resolve(prod, "stable-pilot") == f"sha256:{old.checksum}"
    assert trust.pulled_digest(f"{prod.name}:stable-pilot", tmp_path / "pull-pilot") == old.checksum
