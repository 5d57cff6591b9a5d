"""compose_request / compose_run with the local backend, in-process, on real ostree repos."""

from __future__ import annotations

import subprocess

import pytest

from kinoite_portal.ostree import Repo
from kinoite_portal.releases.errors import ComposeError
from kinoite_portal.releases.models import Commit, Compose, RefUpdate
from kinoite_portal.releases.services.composes import compose_cancel, compose_request, compose_run
from kinoite_portal.releases.services.treefiles import treefile_save
from tests.releases.conftest import REF_DEV, REF_STABLE, treefile_content

pytestmark = pytest.mark.django_db(transaction=True)


def run_compose(treefile, **kwargs):
    compose = compose_request(treefile=treefile, enqueue=False)
    return compose_run(compose_id=compose.pk, **kwargs)


def ostree_out(*args: str) -> str:
    return subprocess.run(["ostree", *args], check=True, capture_output=True, text=True).stdout


def test_it_commits_to_dev_with_rpm_ostree_metadata_and_records_it(treefile, stages) -> None:
    compose = run_compose(treefile)

    assert compose.state == Compose.State.SUCCEEDED, compose.log
    repo = stages["dev"].repo_dir
    head = ostree_out("rev-parse", f"--repo={repo}", REF_DEV).strip()
    assert compose.commit.checksum == head
    assert f"commit {head}" in ostree_out("log", f"--repo={repo}", REF_DEV)
    pkglist = ostree_out("show", "-B", f"--repo={repo}", "--print-metadata-key=rpmostree.rpmdb.pkglist", head)
    assert pkglist.startswith("[('NetworkManager', uint64 1, '1.48.10', '1.fc41', 'x86_64')")
    binding = ostree_out("show", f"--repo={repo}", "--print-metadata-key=ostree.ref-binding", head)
    assert REF_DEV in binding
    assert REF_STABLE in binding
    assert ostree_out("show", f"--repo={repo}", "--print-metadata-key=ostree.bootable", head).strip() == "true"
    commit = Commit.objects.get(checksum=head)
    assert ["kernel", 0, "6.11.4", "301.fc41", "x86_64"] in commit.packages
    assert commit.package_count == len(commit.packages) > 12
    assert commit.version.startswith("41.")
    assert commit.version.endswith(".0")
    update = RefUpdate.objects.get(commit=commit)
    assert (update.source, update.compose_id, update.ref.name) == ("compose", compose.pk, REF_DEV)
    assert (repo / "summary").is_file()
    assert "NOT running 'postprocess'" in compose.log
    paths = Repo(repo).ls_paths(head)
    assert "/usr/share/kinoite-portal/postprocess-not-run.json" in paths
    assert "/usr/lib/modules/6.11.4-301.fc41.x86_64/vmlinuz" in paths


def test_an_unchanged_treefile_ends_unchanged_without_a_new_commit(treefile, stages) -> None:
    first = run_compose(treefile)
    second = run_compose(treefile)

    assert second.state == Compose.State.UNCHANGED
    assert second.commit is None
    assert second.input_hash == first.input_hash
    assert Repo(stages["dev"].repo_dir).resolve(REF_DEV) == first.commit.checksum
    assert Commit.objects.count() == 1


def test_a_new_revision_composes_the_next_update_wave_with_real_upgrades(treefile, stages) -> None:
    first = run_compose(treefile)
    treefile_save(name="kinoite", content=treefile_content(), published_ref=REF_STABLE, comment="no-op")
    assert treefile.revisions.count() == 1
    content = treefile_content(packages=[*treefile_content()["packages"], "flatpak"])
    treefile_save(name="kinoite", content=content, published_ref=REF_STABLE, comment="add flatpak")
    second = run_compose(treefile)

    assert second.state == Compose.State.SUCCEEDED, second.log
    assert second.commit.parent_checksum == first.commit.checksum
    assert second.commit.version.endswith(".1")
    kernels = [p for p in second.commit.packages if p[0] == "kernel"]
    assert kernels == [["kernel", 0, "6.11.5", "300.fc41", "x86_64"]]
    assert any(p[0] == "flatpak" for p in second.commit.packages)


def test_a_missing_package_fails_like_a_depsolve_and_leaves_the_dev_ref(treefile, stages) -> None:
    good = run_compose(treefile)
    broken = treefile_content(packages=["kernel", "systemd", "no-such-package"])
    treefile_save(name="kinoite", content=broken, published_ref=REF_STABLE)

    failed = run_compose(treefile)

    assert failed.state == Compose.State.FAILED
    assert failed.failure_reason == "depsolve failed: Packages not found: no-such-package"
    assert "error: Packages not found: no-such-package" in failed.log
    assert Repo(stages["dev"].repo_dir).resolve(REF_DEV) == good.commit.checksum
    assert RefUpdate.objects.count() == 1


def test_it_refuses_to_cancel_a_finished_compose_and_cancels_a_queued_one(treefile) -> None:
    queued = compose_request(treefile=treefile, enqueue=False)
    compose_cancel(compose=queued)
    assert queued.state == Compose.State.CANCELLED
    assert compose_run(compose_id=queued.pk).state == Compose.State.CANCELLED

    with pytest.raises(ComposeError, match="already ended"):
        compose_cancel(compose=queued)
