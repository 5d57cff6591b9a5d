"""Fixtures for the releases tests: real dev and prod stages with real repos, and the seed treefile."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from kinoite_portal.releases.models import Stage, Treefile
from kinoite_portal.releases.services.stages import stage_ensure
from kinoite_portal.releases.services.treefiles import treefile_save

REF_DEV = "fedora/x86_64/kinoite/dev"
REF_STABLE = "fedora/x86_64/kinoite/stable"


@pytest.fixture
def stages(db: None, tmp_path: Path) -> dict[str, Stage]:
    """Create the dev (order 0) and prod (order 1) stages, each with an archive repo under tmp_path."""
    return {
        "dev": stage_ensure(name="dev", order=0, repo_path=str(tmp_path / "repos" / "dev")),
        "prod": stage_ensure(name="prod", order=1, repo_path=str(tmp_path / "repos" / "prod")),
    }


def treefile_content(**changes: Any) -> dict[str, Any]:
    """Return the seed article's treefile (as the demo ships it), with ``changes`` applied."""
    from kinoite_portal.releases.demo import SEED_TREEFILE

    content = copy.deepcopy(SEED_TREEFILE)
    content.update(changes)
    return content


@pytest.fixture
def treefile(stages: dict[str, Stage]) -> Treefile:
    """Save the seed treefile ``kinoite`` (dev ref .../dev, published as .../stable) as revision 1."""
    return treefile_save(
        name="kinoite", content=treefile_content(), published_ref=REF_STABLE, description="Kinoite desktop"
    )


# --------------------------------------------------------------------------------------------------------------
# Promotion fixtures (issue 4): dev commits made directly with the ostree layer, not through composes.

import os as _os  # noqa: E402
import time as _time  # noqa: E402
from collections.abc import Callable as _Callable  # noqa: E402
from datetime import timedelta as _timedelta  # noqa: E402

from django.utils import timezone as _timezone  # noqa: E402

from kinoite_portal.ostree import Package as _Package  # noqa: E402
from kinoite_portal.ostree import Repo as _Repo  # noqa: E402
from kinoite_portal.ostree import build_tree as _build_tree  # noqa: E402
from kinoite_portal.releases.models import Commit as _Commit  # noqa: E402
from kinoite_portal.releases.services.commits import commit_import as _commit_import  # noqa: E402
from kinoite_portal.releases.services.commits import ref_move as _ref_move  # noqa: E402

KERNEL = "6.11.4-301.fc41.x86_64"


def demo_packages(bash: str = "5.2.32", extra: tuple[str, ...] = ()) -> list[_Package]:
    """Return a small package list; ``bash`` varies between versions, ``extra`` adds packages."""
    pkgs = [
        _Package("bash", 0, bash, "1.fc41", "x86_64"),
        _Package("kernel", 0, "6.11.4", "301.fc41", "x86_64"),
        _Package("shadow-utils", 2, "4.15.1", "12.fc41", "x86_64"),
    ]
    pkgs += [_Package(name, 0, "1.0", "1.fc41", "x86_64") for name in extra]
    return pkgs


@pytest.fixture
def make_dev_commit(stages: dict[str, Stage], treefile: Treefile, tmp_path: Path) -> _Callable[..., _Commit]:
    """Return a factory that commits a bootable tree to dev's ref and records it as a compose would.

    ``days_in_dev`` back-dates the dev RefUpdate (the policy's clock); ``bind_stable=False`` gives a commit bound
    only to the dev ref, as rpm-ostree makes it; ``big_files`` adds that many 20 KB random files.
    """
    repo = _Repo(stages["dev"].repo_dir, timeout=120)
    last_second: list[int] = []

    def make(
        version: str,
        *,
        days_in_dev: float = 8,
        bind_stable: bool = True,
        bash: str = "5.2.32",
        extra: tuple[str, ...] = (),
        big_files: int = 0,
    ) -> _Commit:
        tree = tmp_path / "trees" / version
        _build_tree(
            tree, treefile=treefile.content, packages=demo_packages(bash, extra), version=version, kernel_version=KERNEL
        )
        if big_files:
            data = tree / "usr/share/bulk"
            data.mkdir(parents=True)
            for i in range(big_files):
                (data / f"f{i:05d}").write_bytes(_os.urandom(8_000))
        # Commit timestamps have one-second resolution: keep successive commits in distinct seconds.
        while last_second and int(_time.time()) <= last_second[-1]:
            _time.sleep(0.05)
        checksum = repo.commit(
            branch=treefile.ref,
            tree_dir=tree,
            subject=f"Kinoite {version}",
            metadata={
                "version": version,
                "rpmostree.inputhash": version.replace(".", "") * 2,
                "rpmostree.rpmdb.pkglist": demo_packages(bash, extra),
                "ostree.bootable": True,
                "ostree.linux": KERNEL,
            },
            bind_refs=["fedora/x86_64/kinoite/stable"] if bind_stable else [],
        )
        last_second.append(int(_time.time()))
        commit = _commit_import(repo=repo, checksum=checksum)
        _ref_move(
            stage=stages["dev"],
            ref_name=treefile.ref,
            commit=commit,
            source="compose",
            moved_at=_timezone.now() - _timedelta(days=days_in_dev),
        )
        return commit

    return make


# --- compose fixtures ---------------------------------------------------------------------------------------------


class FakeRpmOstree:
    """Where the rpm-ostree MOCK lives and how to drive it (see tests/releases/fake_rpm_ostree.py)."""

    def __init__(self, root: Path) -> None:
        import sys

        self.bin_dir = root / "fake-bin"
        self.bin_dir.mkdir(parents=True)
        self.argv_file = root / "rpm-ostree-argv.jsonl"
        self.pidfile = root / "rpm-ostree.pid"
        script = self.bin_dir / "rpm-ostree"
        source = (Path(__file__).parent / "fake_rpm_ostree.py").read_text()
        script.write_text(f"#!{sys.executable}\n{source}")
        script.chmod(0o755)

    def env(self, mode: str = "ok", **extra: str) -> dict[str, str]:
        import os

        return {
            "PATH": f"{self.bin_dir}:{os.environ['PATH']}",
            "FAKE_RPM_OSTREE_MODE": mode,
            "FAKE_RPM_OSTREE_ARGV_FILE": str(self.argv_file),
            "FAKE_RPM_OSTREE_PIDFILE": str(self.pidfile),
            **extra,
        }

    def calls(self) -> list[list[str]]:
        import json

        if not self.argv_file.exists():
            return []
        return [json.loads(line) for line in self.argv_file.read_text().splitlines()]


FEDORA_REPOS = """[fedora]
name=Fedora $releasever - $basearch
metalink=https://mirrors.example.com/metalink?repo=fedora-$releasever&arch=$basearch
gpgcheck=1

[fedora-updates]
name=Fedora $releasever - $basearch - Updates
metalink=https://mirrors.example.com/metalink?repo=updates-released-f$releasever&arch=$basearch
gpgcheck=1
"""


@pytest.fixture
def compose_config(settings: Any) -> Path:
    """A build host's compose folder (PORTAL_COMPOSE_CONFIG_DIR) with the yum repos the seed's treefile names."""
    folder = Path(settings.PORTAL_COMPOSE_CONFIG_DIR)
    folder.mkdir(parents=True)
    (folder / "fedora.repo").write_text(FEDORA_REPOS)
    return folder


@pytest.fixture
def fake_rpm_ostree(tmp_path: Path, compose_config: Path) -> FakeRpmOstree:
    """Put the rpm-ostree MOCK in a bin folder; tests add ``fake_rpm_ostree.env(mode)`` to the environment."""
    return FakeRpmOstree(tmp_path)


@pytest.fixture
def short_gnupg_root(settings: Any) -> Any:
    """Point PORTAL_GNUPG_ROOT at a short folder (gpg-agent's socket path must stay under ~100 characters)."""
    import shutil
    import tempfile

    from kinoite_portal.ostree import gpg

    root = Path(tempfile.mkdtemp(prefix="kpg-", dir="/tmp"))
    settings.PORTAL_GNUPG_ROOT = root
    yield root
    for home in gpg.homes_under(root):
        gpg.kill_agent(home)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def signed_prod(stages: dict[str, Stage], short_gnupg_root: Path) -> Stage:
    """Give the prod stage a freshly generated signing key."""
    from kinoite_portal.releases.services.signing import signing_key_generate

    signing_key_generate(stage=stages["prod"], name="Prod signing (test)", email="prod@portal.invalid")
    stages["prod"].refresh_from_db()
    return stages["prod"]
