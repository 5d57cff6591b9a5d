"""Images found by tag are recorded by digest: a Commit per digest, a Ref per tag, a RefUpdate per tag move."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.oci.registry import ImageRepo, Skopeo
from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.models import Commit, Ref, RefUpdate, Stage
from kinoite_portal.releases.services.images import LAYERS_KEY, image_import, image_record
from tests.oci_registry import Registry, push_dev_image


def test_an_image_found_by_tag_is_recorded_by_digest_with_its_labels(
    oci_stages: dict[str, Stage], oci_registry: Registry, tmp_path: Path
) -> None:
    digest = push_dev_image(oci_registry, tmp_path)
    commit = image_record(stage=oci_stages["dev"], tag="latest")
    assert commit is not None
    assert commit.checksum == digest.removeprefix("sha256:")
    assert commit.content_checksum == commit.checksum
    assert commit.version == "41.20261130.0"
    assert commit.metadata["ostree.commit"] == "cd" * 32
    assert len(commit.metadata[LAYERS_KEY]) == 2
    ref = Ref.objects.get(stage=oci_stages["dev"], name="latest")
    assert ref.head == commit
    assert ref.updates.get().source == RefUpdate.Source.IMPORT
    # Recording the same tag again changes nothing.
    assert image_record(stage=oci_stages["dev"], tag="latest") == commit
    assert RefUpdate.objects.count() == 1
    assert Commit.objects.count() == 1


def test_a_missing_tag_records_nothing(oci_stages: dict[str, Stage], oci_registry: Registry, tmp_path: Path) -> None:
    push_dev_image(oci_registry, tmp_path)
    assert image_record(stage=oci_stages["dev"], tag="nope") is None
    assert not Ref.objects.exists()
    assert not Commit.objects.exists()


def test_an_ostree_stage_is_not_asked_for_images(db: None, tmp_path: Path) -> None:
    stage = Stage.objects.create(name="dev", order=0, repo_path=str(tmp_path / "repo"))
    with pytest.raises(PromotionError, match="not an OCI image repository"):
        image_record(stage=stage, tag="latest")


def test_import_records_each_tag_and_reports_a_tag_moved_outside_the_portal(
    oci_stages: dict[str, Stage], oci_registry: Registry, tmp_path: Path
) -> None:
    first = push_dev_image(oci_registry, tmp_path, tag="latest", version="41.1")
    Skopeo().tag(ImageRepo(oci_registry.host, "dev/kinoite", tls_verify=False), first, "testing")
    report = image_import(stage=oci_stages["dev"])
    assert report.commits_imported == 1  # two tags, one digest
    assert sorted((r.name, r.action) for r in report.refs) == [("latest", "new"), ("testing", "new")]

    second = push_dev_image(oci_registry, tmp_path, tag="latest", version="41.2")
    assert second != first
    report = image_import(stage=oci_stages["dev"])
    assert sorted((r.name, r.action) for r in report.refs) == [("latest", "moved"), ("testing", "unchanged")]
    ref = Ref.objects.get(stage=oci_stages["dev"], name="latest")
    assert ref.head is not None
    assert ref.head.checksum == second.removeprefix("sha256:")
    assert ref.updates.first().source == RefUpdate.Source.EXTERNAL  # type: ignore[union-attr]
    assert AuditEvent.objects.filter(action="repo.import").count() == 2


def test_the_import_command_imports_an_oci_stage_and_refuses_a_broken_one(
    oci_stages: dict[str, Stage], oci_registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_dev_image(oci_registry, tmp_path)
    call_command("import_repo", "dev")
    assert "new ref       latest" in capsys.readouterr().out
    Stage.objects.filter(name="prod").update(image_registry="https://nope")
    with pytest.raises(CommandError, match="registry is not usable"):
        call_command("import_repo", "prod")


def test_prune_leaves_an_oci_stage_alone_and_says_why(oci_stages: dict[str, Stage]) -> None:
    from kinoite_portal.releases.services.retention import repo_prune

    Stage.objects.filter(name="prod").update(retention_depth=2)
    report = repo_prune(stage=Stage.objects.get(name="prod"))
    assert "OCI image repository" in report.skipped
