"""Real rpm databases for the tests: tiny noarch packages built with rpmbuild, installed (database only) with rpm."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path


def rpmdb(workdir: Path, packages: Sequence[tuple[str, int, str, str]]) -> bytes:
    """Return the bytes of an rpmdb.sqlite in which the real rpm installed ``packages`` (database only)."""
    top = workdir / "rpmbuild"
    (top / "SPECS").mkdir(parents=True, exist_ok=True)
    built = []
    for name, epoch, version, release in packages:
        spec = top / "SPECS" / f"{name}-{version}-{release}.spec"
        spec.write_text(
            f"Name: {name}\n{f'Epoch: {epoch}' if epoch else ''}\nVersion: {version}\nRelease: {release}\n"
            f"Summary: {name} for the tests\nLicense: MIT\nBuildArch: noarch\n%description\n{name}\n%files\n"
        )
        subprocess.run(
            ["rpmbuild", "--quiet", "--define", f"_topdir {top}", "-bb", str(spec)], check=True, capture_output=True
        )
        built.append(top / "RPMS" / "noarch" / f"{name}-{version}-{release}.noarch.rpm")
    db = workdir / f"db-{len(list(workdir.glob('db-*')))}"
    db.mkdir()
    subprocess.run(["rpm", "--dbpath", str(db), "--initdb"], check=True, capture_output=True)
    subprocess.run(
        ["rpm", "--dbpath", str(db), "-i", "--justdb", "--nodeps", *map(str, built)], check=True, capture_output=True
    )
    return (db / "rpmdb.sqlite").read_bytes()
