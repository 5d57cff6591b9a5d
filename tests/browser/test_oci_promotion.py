"""An OCI promotion approved in the browser: a real worker copies the image by digest, signs it, and the tag moves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kinoite_portal.oci.registry import ImageRepo, Skopeo
from kinoite_portal.releases.models import Promotion
from kinoite_portal.releases.services.images import image_record
from kinoite_portal.releases.services.promotions import promotion_request
from tests.oci_registry import push_dev_image

pytestmark = pytest.mark.browser


def test_an_approver_approves_an_image_and_sees_the_prod_tag_move_to_its_digest(
    oci_stages: Any,
    signed_oci_prod: Any,
    containerfile: Any,
    oci_registry: Any,
    tmp_path: Path,
    release_engineer: Any,
    approver: Any,
    celery_worker: Any,
    new_page: Any,
    sign_in: Any,
    live_server: Any,
    watch: Any,
    shot: Any,
    screenshot_dir: Path,
) -> None:
    push_dev_image(oci_registry, tmp_path, version="41.20261130.0")
    commit = image_record(stage=oci_stages["dev"], tag="latest")
    assert commit is not None
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum, comment="bootc image for prod")
    prod = ImageRepo(oci_registry.host, "prod/kinoite", tls_verify=False)
    assert Skopeo().resolve(prod, "stable") is None

    page = new_page(1280, 900)
    sign_in(page, approver.username)
    seen = watch(page)
    page.goto(f"{live_server.url}/releases/promotions/{promotion.pk}/")
    assert commit.checksum[:12] in page.content()
    page.fill("#vote-comment", "Booted it on the pilot desktops.")
    page.locator("button.approve").click()
    page.wait_for_function(
        """() => document.querySelector('#promotion-timeline [data-step="published"]').dataset.status === 'done'""",
        timeout=90_000,
    )

    assert Promotion.objects.get(pk=promotion.pk).state == Promotion.State.SUCCEEDED
    assert Skopeo().resolve(prod, "stable") == f"sha256:{commit.checksum}"
    log = page.locator("#promotion-log").inner_text()
    assert "--preserve-digests" in log
    assert f"{prod.name}:stable -> sha256:{commit.checksum}" in log
    assert seen.errors == []
    shot(page, "oci-promotion-published")
    # The README's picture stops above the run log, whose temporary paths belong to this test run.
    page.evaluate("window.scrollTo(0, 0)")
    log_box = page.locator("#promotion-log").bounding_box()  # in page coordinates once scrolled to the top
    assert log_box is not None
    page.screenshot(
        path=str(screenshot_dir / "oci-promotion-summary.png"),
        full_page=True,
        clip={"x": 0, "y": 0, "width": 1280, "height": log_box["y"] - 8},
    )
