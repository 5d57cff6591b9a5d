"""A Containerfile build seen in the browser: Compose now, the live log of real buildah, the pushed digest; Cancel."""

from __future__ import annotations

from typing import Any

import pytest

from kinoite_portal.releases.models import Compose, Stage
from kinoite_portal.releases.services.treefiles import treefile_save
from tests.services import stalling_http_url

pytestmark = pytest.mark.browser


@pytest.fixture
def oci_dev(transactional_db: None, oci_registry: Any) -> Stage:
    return Stage.objects.create(
        name="bootc-dev",
        order=10,
        kind=Stage.Kind.OCI,
        image_registry=oci_registry.host,
        image_repository="dev/kinoite",
        registry_tls_verify=False,
    )


def save_containerfile(containerfile: str) -> Any:
    return treefile_save(
        name="kinoite-bootc",
        kind="containerfile",
        description="Kinoite as a bootc image",
        content={
            "containerfile": containerfile,
            "tag": "latest",
            "releasever": "41",
            "context": {"etc/motd": "Welcome to Kinoite\n", "etc/os-release": "NAME=Kinoite\nVERSION_ID=41\n"},
        },
        published_ref="stable",
    )


def test_compose_now_builds_the_image_and_the_page_follows_the_log_to_the_pushed_digest(
    oci_dev: Stage, release_engineer: Any, start_worker: Any, new_page: Any, sign_in: Any, live_server: Any, shot: Any
) -> None:
    start_worker(queues="compose")
    treefile = save_containerfile(
        "FROM scratch\nCOPY etc/ /etc/\nLABEL ostree.bootable=1 containers.bootc=1\n"
        'LABEL org.opencontainers.image.title="Kinoite"\n'
    )
    page = new_page(1280, 900)
    sign_in(page, "rita")
    page.goto(f"{live_server.url}/releases/treefiles/{treefile.name}/")
    settings = page.locator("section", has_text="Settings").inner_text()
    assert "Containerfile (bootc image)" in settings
    assert f"{oci_dev.image_registry}/dev/kinoite:latest" in settings
    assert "etc/motd, etc/os-release" in settings
    assert "LABEL ostree.bootable=1" in page.get_by_label("Containerfile").inner_text()

    page.get_by_role("button", name="Compose now").click()
    page.wait_for_url("**/releases/composes/*/")
    page.locator("#compose-status[data-state=succeeded]").wait_for(timeout=60_000)
    log = page.locator("#compose-log")
    log.filter(has_text="Succeeded:").wait_for(timeout=10_000)

    compose = Compose.objects.get()
    status = page.locator("#compose-status").inner_text()
    assert f"into bootc-dev:{oci_dev.image_registry}/dev/kinoite:latest" in status
    assert compose.commit.version in status
    assert "image pushed by digest" in status
    text = log.inner_text()
    assert "STEP 2/6: COPY etc/ /etc/" in text
    assert f"Pushed {oci_dev.image_registry}/dev/kinoite:latest@sha256:{compose.commit.checksum}" in text
    shot(page, "compose-containerfile")

    page.goto(f"{live_server.url}/releases/treefiles/{treefile.name}/")
    history = page.locator("section", has_text="Dev history of").inner_text()
    assert compose.commit.version in history
    assert f"compose #{compose.pk}" in history


def test_cancel_in_the_browser_stops_a_running_build(
    oci_dev: Stage, release_engineer: Any, start_worker: Any, new_page: Any, sign_in: Any, live_server: Any
) -> None:
    start_worker(queues="compose")
    with stalling_http_url("extras.tar") as url:
        save_containerfile(f"FROM scratch\nADD {url} /usr/share/extras.tar\n")
        page = new_page(1280, 900)
        sign_in(page, "rita")
        page.goto(f"{live_server.url}/releases/treefiles/kinoite-bootc/")
        page.get_by_role("button", name="Compose now").click()
        page.wait_for_url("**/releases/composes/*/")
        page.locator("#compose-log", has_text=f"ADD {url}").wait_for(timeout=60_000)

        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Cancel").click()
        page.locator("#compose-status[data-state=cancelled]").wait_for(timeout=30_000)

    assert "Cancelled while running; the dev tag did not move" in page.locator("#compose-status").inner_text()
    assert Compose.objects.get().state == Compose.State.CANCELLED
