"""Read and write commit objects in process, through libostree itself (PyGObject).

Commit metadata is typed GVariant of any size here: nothing passes through a command line (one argument may not exceed
128 KiB) or through GVariant text. Work that can run for minutes (writing a directory tree, pull-local, static
deltas, prune, fsck) stays on the ``ostree`` command line, where the runner can time it out and kill it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import gvariant
from ._gi import gio, glib, ostree
from .errors import CommitNotFound, OstreeError
from .model import CommitInfo

# One entry per object of the tree (~1.3 MB for 10,000 files), read only by `ostree show --print-sizes` and pull
# size estimates: decoding it would make reading a commit cost grow with the tree. ``metadata_entries`` keeps it.
UNDECODED_KEYS = frozenset({"ostree.sizes"})
REF_BINDING_KEY = "ostree.ref-binding"
COLLECTION_BINDING_KEY = "ostree.collection-binding"
GPG_SIGNATURES_KEY = "ostree.gpgsigs"


def _is_not_found(exc: Exception) -> bool:
    Gio = gio()
    return isinstance(exc, glib().Error) and bool(exc.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND))


@contextmanager
def _glib_errors(what: str) -> Iterator[None]:
    try:
        yield
    except glib().Error as exc:
        if _is_not_found(exc):
            raise CommitNotFound(f"{what}: {exc.message}") from None
        raise OstreeError(f"{what}: {exc.message}") from None


def open_repo(path: Path) -> Any:
    """Return an opened ``OSTree.Repo`` for ``path``."""
    OSTree = ostree()
    repo = OSTree.Repo.new(gio().File.new_for_path(str(path)))
    with _glib_errors(f"cannot open the ostree repo {path}"):
        repo.open(None)
    return repo


def resolve(repo: Any, rev: str) -> str | None:
    """Return the checksum ``rev`` (a ref or a checksum) names, or None for an unknown ref."""
    with _glib_errors(f"cannot resolve {rev!r}"):
        _, checksum = repo.resolve_rev(rev, True)
    return str(checksum) if checksum is not None else None


def load_commit(repo: Any, checksum: str) -> Any:
    """Return the commit object ``checksum`` as a ``GLib.Variant`` (partial commits included)."""
    with _glib_errors(f"commit {checksum} is not in {repo.get_path().get_path()}"):
        _, variant, _ = repo.load_commit(checksum)
    return variant


def metadata_entries(commit: Any) -> Iterator[tuple[str, Any]]:
    """Yield ``(key, GLib.Variant value)`` for every metadata key of a commit object, in stored order."""
    metadata = commit.get_child_value(0)
    for index in range(metadata.n_children()):
        entry = metadata.get_child_value(index)
        yield str(entry.get_child_value(0).get_string()), entry.get_child_value(1).get_variant()


def _signature_key_ids(repo: Any, checksum: str, count: int) -> tuple[str, ...]:
    if not count:
        return ()
    OSTree = ostree()
    try:
        result = repo.verify_commit_ext(checksum, None, None, None)
    except glib().Error:
        return ()
    key_ids = []
    for index in range(result.count_all()):
        fingerprint = str(result.get(index, [OSTree.GpgSignatureAttr.FINGERPRINT]).get_child_value(0).get_string())
        # The long key ID is the last 16 hex digits of the fingerprint, as `ostree show` prints it.
        key_ids.append(fingerprint[-16:].upper())
    return tuple(key_ids)


def _signature_count(repo: Any, checksum: str) -> int:
    with _glib_errors(f"cannot read the detached metadata of {checksum}"):
        _, detached = repo.read_commit_detached_metadata(checksum, None)
    if detached is None:
        return 0
    signatures = detached.lookup_value(GPG_SIGNATURES_KEY, glib().VariantType.new("aay"))
    return int(signatures.n_children()) if signatures is not None else 0


def commit_info(
    repo: Any, checksum: str, commit: Any, *, with_metadata: bool = True, packages: bool = True
) -> CommitInfo:
    """Return ``CommitInfo`` for a loaded commit object; ``with_metadata=False`` reads only the header fields.

    ``packages=False`` leaves the package list undecoded (``packages`` is empty and ``metadata`` lacks the key):
    through PyGObject a 2,000-package list costs about 0.1 s, and checks of the binding, dates and signatures need
    none of it.
    """
    OSTree = ostree()
    metadata: dict[str, object] = {}
    skipped = UNDECODED_KEYS if packages else UNDECODED_KEYS | {gvariant.PKGLIST_KEY}
    if with_metadata:
        metadata = {key: gvariant.from_variant(value) for key, value in metadata_entries(commit) if key not in skipped}
        signatures = _signature_count(repo, checksum)
        key_ids = _signature_key_ids(repo, checksum, signatures)
    else:
        version = commit.get_child_value(0).lookup_value("version", glib().VariantType.new("s"))
        if version is not None:
            metadata["version"] = str(version.get_string())
        signatures, key_ids = 0, ()
    version = metadata.get("version")
    input_hash = metadata.get("rpmostree.inputhash")
    binding = metadata.get(REF_BINDING_KEY)
    pkglist = metadata.get(gvariant.PKGLIST_KEY)
    parent = OSTree.commit_get_parent(commit)
    return CommitInfo(
        checksum=checksum,
        parent=str(parent) if parent else None,
        content_checksum=str(OSTree.commit_get_content_checksum(commit)),
        timestamp=datetime.fromtimestamp(int(OSTree.commit_get_timestamp(commit)), UTC),
        version=version if isinstance(version, str) else None,
        subject=str(commit.get_child_value(3).get_string()),
        body=str(commit.get_child_value(4).get_string()),
        metadata=metadata if with_metadata else {},
        packages=gvariant.packages_from_value(pkglist) if pkglist is not None else (),
        ref_binding=tuple(str(r) for r in binding) if isinstance(binding, list) else None,
        signatures=signatures,
        input_hash=input_hash if isinstance(input_hash, str) else None,
        signature_key_ids=key_ids,
    )


def read_commit(path: Path, rev: str, *, packages: bool = True) -> CommitInfo:
    """Return one commit (by ref or checksum) with its metadata, binding, signatures and (``packages``) packages."""
    repo = open_repo(path)
    checksum = resolve(repo, rev)
    if checksum is None:
        raise CommitNotFound(f"{rev} is not a commit or ref in {path}")
    return commit_info(repo, checksum, load_commit(repo, checksum), packages=packages)


def resolve_local_ref(path: Path, ref: str) -> str | None:
    """Return the checksum the local ref ``ref`` (``refs/heads``) names, or None when there is no such ref.

    In process: the two commands this replaces (``refs --list`` then ``rev-parse``) cost more than a promotion's
    own ``refs --create``. Refs mirrored from remotes are not looked at, as ``refs --list NAME`` does not list them.
    """
    repo = open_repo(path)
    flags = ostree().RepoResolveRevExtFlags.LOCAL_ONLY
    with _glib_errors(f"cannot resolve {ref!r} in {path}"):
        _, checksum = repo.resolve_rev_ext(ref, True, flags)
    return str(checksum) if checksum is not None else None


def signature_key_ids(path: Path, checksum: str) -> tuple[str, ...]:
    """Return the long key IDs of a commit's GPG signatures (from its detached metadata; the commit is not decoded)."""
    repo = open_repo(path)
    return _signature_key_ids(repo, checksum, _signature_count(repo, checksum))


def log(path: Path, rev: str) -> tuple[list[CommitInfo], bool]:
    """Return the history of ``rev`` newest first (header fields and version only) and whether it was cut short."""
    repo = open_repo(path)
    checksum = resolve(repo, rev)
    if checksum is None:
        raise CommitNotFound(f"{rev} is not a commit or ref in {path}")
    commits = [commit_info(repo, checksum, load_commit(repo, checksum), with_metadata=False)]
    OSTree = ostree()
    while commits[-1].parent is not None:
        with _glib_errors(f"cannot read {commits[-1].parent}"):
            _, parent = repo.load_variant_if_exists(OSTree.ObjectType.COMMIT, commits[-1].parent)
        if parent is None:
            return commits, True
        commits.append(commit_info(repo, commits[-1].parent, parent, with_metadata=False))
    return commits, False


def raw_metadata(path: Path, checksum: str) -> dict[str, gvariant.RawVariant]:
    """Return every metadata key of a commit as its exact type and bytes."""
    repo = open_repo(path)
    return {key: gvariant.raw_variant(value) for key, value in metadata_entries(load_commit(repo, checksum))}


def write_commit(
    path: Path,
    *,
    branch: str,
    subject: str,
    body: str,
    metadata: Mapping[str, Any],
    tree_of: str,
    parent: str | None,
    bind_refs: Sequence[str],
    no_bindings: bool,
) -> str:
    """Commit the tree of commit ``tree_of`` to ``branch`` with typed ``metadata`` (``GLib.Variant`` values).

    Writes the bindings ``ostree commit`` writes (``ostree.ref-binding``: the branch and ``bind_refs``, sorted;
    ``ostree.collection-binding`` when the repo has a collection id) unless ``no_bindings``. Without ``parent`` the
    branch's current head is the parent, as with ``ostree commit -b``. The ref moves in the same transaction.
    """
    GLib = glib()
    repo = open_repo(path)
    with _glib_errors(f"cannot read the tree of {tree_of}"):
        _, root, _ = repo.read_commit(tree_of, None)
    entries = dict(metadata)
    if not no_bindings:
        collection_id = repo.get_collection_id()
        if collection_id is not None:
            entries[COLLECTION_BINDING_KEY] = GLib.Variant("s", str(collection_id))
        entries[REF_BINDING_KEY] = GLib.Variant("as", sorted({branch, *bind_refs}))
    if parent is None:
        parent = resolve(repo, branch)
    elif resolve(repo, parent) is None:
        raise CommitNotFound(f"parent {parent} is not in {path}")
    with _glib_errors(f"cannot commit to {branch} in {path}"):
        repo.prepare_transaction(None)
        try:
            _, checksum = repo.write_commit(parent, subject, body, GLib.Variant("a{sv}", entries), root, None)
            repo.transaction_set_ref(None, branch, checksum)
            repo.commit_transaction(None)
        except BaseException:
            repo.abort_transaction(None)
            raise
    return str(checksum)


def delete_commit_object(path: Path, checksum: str) -> None:
    """Delete one commit object (not its tree), e.g. the unnamed commit a directory was written with."""
    repo = open_repo(path)
    with _glib_errors(f"cannot delete commit {checksum}"):
        repo.delete_object(ostree().ObjectType.COMMIT, checksum, None)
