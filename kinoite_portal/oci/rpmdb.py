"""The package list an image carries: the rpm database of its top-most layer that holds one, listed by ``rpm``.

bootc and rpm-ostree images keep the database at ``usr/lib/sysimage/rpm`` (newer) or ``usr/share/rpm`` (older, a
symlink to the first in between). Only the layer blobs are fetched (``skopeo copy ... dir:``, compressed, into a
temporary folder removed afterwards); the layers are read as tar streams from the top down, and only the files of the
database folder of the first layer that holds a database are written out. ``rpm --dbpath`` then lists them; it reads
sqlite (Fedora 33 and later) and, read-only, BerkeleyDB (older images).
"""

from __future__ import annotations

import json
import posixpath
import shutil
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kinoite_portal.ostree.errors import CommandError
from kinoite_portal.ostree.runner import LogSink, run

from .registry import ImageRepo, RegistryError, Skopeo

# Where images keep the database, the newer place first (when one layer holds both, the newer one is live).
RPMDB_DIRS = ("usr/lib/sysimage/rpm", "usr/share/rpm")
# A file that makes a folder a database: sqlite (rpm 4.16+), BerkeleyDB and ndb.
DB_FILES = ("rpmdb.sqlite", "Packages", "Packages.db")
# rpm prints one line per package; EPOCHNUM is 0 where a package has no epoch (as rpmostree.rpmdb.pkglist stores it).
QUERY_FORMAT = "%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n"
RPM_TIMEOUT = 300.0
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


class RpmdbUnreadable(RegistryError):
    """The image carries an rpm database that could not be read (corrupt, a layer format not understood, rpm failed)."""


@dataclass(frozen=True)
class ImagePackages:
    """The packages an image's rpm database lists, and where the database was found."""

    path: str  # the database folder in the image, e.g. usr/lib/sysimage/rpm
    layer: str  # the digest of the layer that holds it
    packages: tuple[tuple[str, int, str, str, str], ...]  # (name, epoch, version, release, arch), sorted
    seconds: float  # how long fetching and reading took

    @property
    def where(self) -> str:
        """Return where the database was found, for the log and the commit's metadata."""
        return f"{self.path} (layer {self.layer[:19]})"


def _norm(name: str) -> str:
    """Return a member name as a path relative to the image's root (``./usr/share/rpm/`` -> ``usr/share/rpm``)."""
    return posixpath.normpath("/" + name).lstrip("/")


def _covered(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    source = tar.extractfile(member)
    assert source is not None  # a regular file always has content
    with source, target.open("wb") as out:
        shutil.copyfileobj(source, out)


def _scan_layer(blob: Path, candidates: list[str], into: Path) -> tuple[str | None, set[str]]:
    """Read one layer blob as a tar stream; write the files of each candidate database folder it holds to ``into``.

    Return (the candidate folder this layer holds a database in, or None; the candidates it hides from the layers
    below: whited out, made opaque, or replaced by a symlink or a file).
    """
    found: list[str] = []
    hidden: set[str] = set()
    # Hard links in this layer: their target (an earlier member) -> where its content goes. ostree-container layers
    # may keep a file's content once and link its paths to it.
    links: dict[str, list[Path]] = {}
    try:
        # "r|*": a stream, any compression tarfile knows (gzip, bzip2, xz, none); the blob is never unpacked to disk.
        with tarfile.open(blob, mode="r|*") as tar:
            for member in tar:
                name = _norm(member.name)
                folder, base = posixpath.split(name)
                if base == OPAQUE:
                    hidden.update(c for c in candidates if _covered(c, folder))
                    continue
                if base.startswith(WHITEOUT):
                    gone = posixpath.join(folder, base[len(WHITEOUT) :])
                    hidden.update(c for c in candidates if _covered(c, gone))
                    if folder in candidates and base[len(WHITEOUT) :] in DB_FILES:
                        hidden.add(folder)
                    continue
                if name in candidates and not member.isdir():
                    hidden.add(name)  # the folder became a symlink (usr/share/rpm -> ../lib/sysimage/rpm) or a file
                    continue
                if folder in candidates and (member.isfile() or member.islnk()):
                    target = into / folder / base
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if member.islnk():
                        links.setdefault(_norm(member.linkname), []).append(target)
                    else:
                        _copy_member(tar, member, target)
                    if base in DB_FILES and folder not in found:
                        found.append(folder)
        if links and found:
            # A stream cannot seek back to a link's target: a second pass over this one layer copies the targets.
            with tarfile.open(blob, mode="r|*") as tar:
                for member in tar:
                    targets = links.pop(_norm(member.name), []) if member.isfile() else []
                    if targets:
                        _copy_member(tar, member, targets[0])
                    for target in targets[1:]:
                        shutil.copyfile(targets[0], target)
            if links:
                raise RpmdbUnreadable(f"layer {blob.name[:12]} links {', '.join(sorted(links))} to nothing")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise RpmdbUnreadable(f"layer {blob.name[:12]} is not a tar archive Python can read ({exc})") from None
    live = [c for c in candidates if c in found]
    return (live[0] if live else None), hidden


def _parse_query(text: str) -> tuple[tuple[str, int, str, str, str], ...]:
    packages = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 5 or not fields[0]:
            raise RpmdbUnreadable(f"rpm printed a line that is not a package: {line[:200]!r}")
        name, epoch, version, release, arch = fields
        # Imported signing keys are headers of their own in the database, not packages anything installed.
        if name == "gpg-pubkey":
            continue
        try:
            epoch_number = int(epoch)
        except ValueError:
            raise RpmdbUnreadable(f"rpm printed an epoch that is not a number: {line[:200]!r}") from None
        packages.append((name, epoch_number, version, release, arch))
    # The order the ostree path stores (releases.services.commits.commit_import): by name, then arch.
    return tuple(sorted(packages, key=lambda p: (p[0], p[4])))


def rpmdb_list(dbpath: Path, *, log: LogSink | None = None) -> tuple[tuple[str, int, str, str, str], ...]:
    """Return the packages the rpm database in ``dbpath`` lists; RpmdbUnreadable when rpm cannot read it."""
    if not any((dbpath / name).is_file() for name in DB_FILES):
        # rpm would quietly create an empty database there and list nothing.
        raise RpmdbUnreadable(f"{dbpath} holds no rpm database")
    try:
        result = run(
            ["rpm", "--dbpath", str(dbpath.absolute()), "-qa", "--qf", QUERY_FORMAT], log=log, timeout=RPM_TIMEOUT
        )
    except CommandError as exc:
        raise RpmdbUnreadable(f"rpm could not read the database: {exc.first_error_line()}") from None
    return _parse_query(result.stdout)


def image_packages(
    skopeo: Skopeo, repo: ImageRepo, digest: str, *, log: LogSink | None = None, workdir: Path | None = None
) -> ImagePackages | None:
    """Return the packages ``repo@digest`` carries, None when the image holds no rpm database.

    Raises RpmdbUnreadable when it holds one that cannot be read, ImageNotFound when the image is not there, and
    another OstreeError when skopeo fails. Costs one download of every layer blob (compressed) into ``workdir``.
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="portal-rpmdb-", dir=workdir) as tmp:
        blobs = Path(tmp) / "blobs"
        skopeo.copy_to_dir(repo, digest, blobs)
        try:
            manifest = json.loads((blobs / "manifest.json").read_text())
            layers = [str(layer["digest"]) for layer in manifest["layers"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RpmdbUnreadable(f"the image's manifest lists no layers that can be read ({exc})") from None
        top_down = list(reversed(layers))
        found = rpmdb_extract([blobs / layer.split(":", 1)[-1] for layer in top_down], Path(tmp) / "rpmdb")
        if found is None:
            return None
        path, number = found
        packages = rpmdb_list(Path(tmp) / "rpmdb" / path, log=log)
        return ImagePackages(path=path, layer=top_down[number], packages=packages, seconds=time.monotonic() - started)


def rpmdb_extract(layers_top_down: Sequence[Path], into: Path) -> tuple[str, int] | None:
    """Write the rpm database of the top-most layer that holds one to ``into``/PATH; None when no layer does.

    Return (PATH, the database folder in the image; the number of its layer counted from the top). A layer above
    that whites the database out, makes a parent folder opaque or replaces the folder with a file or a symlink hides
    the database of the layers below.
    """
    candidates = list(RPMDB_DIRS)
    for number, blob in enumerate(layers_top_down):
        if not candidates:
            break
        layer_dir = into.parent / f"{into.name}-layer-{number}"
        found, hidden = _scan_layer(blob, candidates, layer_dir)
        if found is not None:
            (into / found).parent.mkdir(parents=True, exist_ok=True)
            (layer_dir / found).rename(into / found)
            shutil.rmtree(layer_dir, ignore_errors=True)
            return found, number
        candidates = [c for c in candidates if c not in hidden]
        shutil.rmtree(layer_dir, ignore_errors=True)
    return None
