"""One ostree repo on disk, and every ostree operation the portal performs on it."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from . import gvariant, libostree, parsers
from .errors import CommandError, CommitNotFound, InvalidChecksum, OstreeError, RepoMissing
from .lock import repo_lock
from .model import CommitInfo, DeltaInfo, DiffResult, FsckResult, PruneResult, PullResult
from .runner import DEFAULT_TIMEOUT, CommandResult, LogSink, run
from .validate import is_checksum, validate_checksum, validate_ref

REPO_MODES = ("archive", "archive-z2", "bare", "bare-user", "bare-user-only", "bare-split-xattrs")
_METADATA_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_CONFIG_KEY_RE = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9_-]+)+")
_GPG_KEY_RE = re.compile(r"[0-9A-Fa-f]{16}|[0-9A-Fa-f]{40}")
_DATE_SPEC_RE = re.compile(r"[A-Za-z0-9 :+.-]+")
# Keys the commit writer sets itself: a copied ['.../dev'] binding would break every pull of the new ref.
OSTREE_MANAGED_KEYS = frozenset({"ostree.ref-binding", "ostree.sizes", "ostree.collection-binding"})


def validate_gpg_key_id(key_id: str) -> str:
    """Return ``key_id`` uppercased if it is a 16-hex long ID or a 40-hex fingerprint."""
    if not isinstance(key_id, str) or not _GPG_KEY_RE.fullmatch(key_id):
        raise ValueError(f"GPG key {key_id!r} must be a 40-hex fingerprint or a 16-hex long key ID")
    return key_id.upper()


class Repo:
    """An ostree repo at ``path``; every command gets ``--repo=PATH`` and this repo's log sink and timeout."""

    def __init__(self, path: str | os.PathLike[str], *, log: LogSink | None = None, timeout: float = DEFAULT_TIMEOUT):
        self.path = Path(path).absolute()
        self.log_sink = log
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Repo({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Repo) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def using(self, *, log: LogSink | None = None, timeout: float | None = None) -> Repo:
        """Return the same repo with another log sink and/or timeout."""
        return Repo(self.path, log=log if log is not None else self.log_sink, timeout=timeout or self.timeout)

    # ------------------------------------------------------------------ existence

    @classmethod
    def init(
        cls,
        path: str | os.PathLike[str],
        *,
        mode: str = "archive",
        log: LogSink | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Repo:
        """Create a repo at ``path`` (parents included) and return it; an existing repo is returned unchanged."""
        if mode not in REPO_MODES:
            raise ValueError(f"repo mode {mode!r} is not one of {', '.join(REPO_MODES)}")
        repo = cls(path, log=log, timeout=timeout)
        if repo.exists():
            return repo
        if repo.path.exists() and (not repo.path.is_dir() or any(repo.path.iterdir())):
            raise OstreeError(f"{repo.path} exists and is not an ostree repo; refusing to create a repo there")
        # `ostree init` does not create parent directories.
        repo.path.mkdir(parents=True, exist_ok=True)
        run(["ostree", "init", f"--mode={mode}", f"--repo={repo.path}"], log=log, timeout=timeout)
        return repo

    def exists(self) -> bool:
        """Return True if ``path`` holds an ostree repo (a ``config`` file and an ``objects`` directory)."""
        return (self.path / "config").is_file() and (self.path / "objects").is_dir()

    def require(self) -> None:
        """Raise RepoMissing unless ``path`` holds an ostree repo."""
        if not self.path.exists():
            raise RepoMissing(f"ostree repo {str(self.path)!r} does not exist")
        if not self.exists():
            raise RepoMissing(f"{str(self.path)!r} is not an ostree repo (no config file or objects directory)")

    def _ostree(
        self,
        command: Sequence[str],
        *args: str,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        self.require()
        argv = ["ostree", *command, f"--repo={self.path}", *args]
        return run(argv, timeout=self.timeout, log=self.log_sink, env=env, check=check)

    def mode(self) -> str:
        """Return ``core.mode`` as stored in the config (``archive`` repos say ``archive-z2``)."""
        return self.get_config("core.mode")

    def get_config(self, key: str) -> str:
        """Return a config value (``ostree config get KEY``)."""
        if not _CONFIG_KEY_RE.fullmatch(key):
            raise ValueError(f"config key {key!r} must look like section.name")
        return self._ostree(["config", "get"], key).stdout.strip()

    def set_config(self, key: str, value: str) -> None:
        """Set a config value (``ostree config set KEY VALUE``)."""
        if not _CONFIG_KEY_RE.fullmatch(key):
            raise ValueError(f"config key {key!r} must look like section.name")
        if "\n" in value or value.startswith("-"):
            raise ValueError(f"config value {value!r} may not contain a newline or start with '-'")
        self._ostree(["config", "set"], key, value)

    # ------------------------------------------------------------------ commits

    def has_commit(self, checksum: str) -> bool:
        """Return True if the complete commit object ``checksum`` is in this repo (not a partial one)."""
        checksum = validate_checksum(checksum)
        self.require()
        # rev-parse echoes any 64-hex value back without checking, so look at the object store instead.
        commit_file = self.path / "objects" / checksum[:2] / f"{checksum[2:]}.commit"
        partial = self.path / "state" / f"{checksum}.commitpartial"
        return commit_file.is_file() and not partial.exists()

    def _require_commit(self, checksum: str) -> str:
        checksum = validate_checksum(checksum)
        if not self.has_commit(checksum):
            raise CommitNotFound(f"commit {checksum} is not in {self.path}")
        return checksum

    def _rev_arg(self, checksum_or_ref: str) -> str:
        if is_checksum(checksum_or_ref):
            return checksum_or_ref.lower()
        return validate_ref(checksum_or_ref)

    def commit(
        self,
        *,
        branch: str,
        subject: str,
        tree_dir: str | os.PathLike[str] | None = None,
        tree_ref: str | None = None,
        body: str = "",
        metadata: Mapping[str, object] | None = None,
        bind_refs: Iterable[str] = (),
        no_bindings: bool = False,
        parent: str | None = None,
        generate_sizes: bool = False,
        owner_root: bool = True,
    ) -> str:
        """Commit a directory (``tree_dir``) or another commit's tree (``tree_ref``) to ``branch``; return the checksum.

        The commit object is written by libostree with typed ``metadata`` of any size (``gvariant.metadata_variant``);
        pass ``RawVariant`` values, e.g. from ``metadata_keys``, to copy another commit's metadata byte for byte.
        ``bind_refs`` lists every ref besides ``branch`` the commit may be published under. A directory is first
        written by ``ostree commit`` (it can take minutes, so it runs where the timeout can kill it) as an unnamed
        commit whose tree the real commit then takes. ``owner_root`` records every file of ``tree_dir`` as owned by
        root, whoever runs the worker. ``generate_sizes`` is off by default: nothing reads ``ostree.sizes``, and for a
        10,000-file tree it adds about 470 KB to the commit object that every client downloads.
        """
        validate_ref(branch)
        if isinstance(bind_refs, str):
            raise ValueError(f"bind_refs is a list of refs, not the string {bind_refs!r}")
        binds = [validate_ref(r) for r in bind_refs]
        if no_bindings and binds:
            raise ValueError("no_bindings=True and bind_refs contradict each other")
        if (tree_dir is None) == (tree_ref is None):
            raise ValueError("pass exactly one of tree_dir and tree_ref")
        if not subject.strip():
            raise ValueError("a commit needs a subject")
        if generate_sizes and tree_dir is None:
            raise ValueError("generate_sizes needs tree_dir: sizes are counted while a directory is written")
        variants: dict[str, object] = {}
        for key, value in (metadata or {}).items():
            if not _METADATA_KEY_RE.fullmatch(key):
                raise ValueError(f"metadata key {key!r} may only contain A-Z a-z 0-9 . _ -")
            if key in OSTREE_MANAGED_KEYS:
                raise ValueError(f"ostree writes {key!r} itself; use branch/bind_refs/no_bindings/generate_sizes")
            variants[key] = gvariant.metadata_variant(key, value)
        self.require()
        if parent is not None:
            parent = self._require_commit(parent)
        if tree_ref is not None:
            return self._write_commit(
                branch, subject, body, variants, self._require_commit(tree_ref), parent, binds, no_bindings
            )
        assert tree_dir is not None
        directory = Path(tree_dir).absolute()
        if not directory.is_dir():
            raise OstreeError(f"tree directory {str(directory)!r} does not exist")
        args = ["--orphan", "--no-bindings", f"--subject=tree for {branch}"]
        if owner_root:
            args.extend(["--owner-uid=0", "--owner-gid=0"])
        if generate_sizes:
            args.append("--generate-sizes")
        args.append(f"--tree=dir={directory}")
        unnamed = validate_checksum(self._ostree(["commit"], *args).stdout.strip())
        if generate_sizes:
            variants.update(
                (k, gvariant.to_variant(v))
                for k, v in libostree.raw_metadata(self.path, unnamed).items()
                if k == "ostree.sizes"
            )
        try:
            return self._write_commit(branch, subject, body, variants, unnamed, parent, binds, no_bindings)
        finally:
            libostree.delete_commit_object(self.path, unnamed)

    def _write_commit(
        self,
        branch: str,
        subject: str,
        body: str,
        variants: Mapping[str, object],
        tree_of: str,
        parent: str | None,
        binds: list[str],
        no_bindings: bool,
    ) -> str:
        size = sum(len(gvariant.raw_variant(v).data) for v in variants.values())
        self._note(f"libostree: commit the tree of {tree_of} to {branch} ({len(variants)} metadata keys, {size} bytes)")
        checksum = libostree.write_commit(
            self.path,
            branch=branch,
            subject=subject,
            body=body,
            metadata=variants,
            tree_of=tree_of,
            parent=parent,
            bind_refs=binds,
            no_bindings=no_bindings,
        )
        self._note(f"libostree: wrote {checksum}")
        return validate_checksum(checksum)

    def _note(self, text: str) -> None:
        if self.log_sink is not None:
            self.log_sink.write(text)

    def read_commit(self, checksum_or_ref: str, *, packages: bool = True) -> CommitInfo:
        """Return one commit with its metadata, packages, ref binding and signatures (read by libostree).

        The cost does not grow with the tree: ``ostree.sizes`` is never decoded (``libostree.UNDECODED_KEYS``;
        ``metadata_keys(include_managed=True)`` still has it). Signatures are counted and their key IDs read only when
        the commit has any. ``packages=False`` skips the package list (``packages`` is empty, ``metadata`` lacks
        ``rpmostree.rpmdb.pkglist``): decoding a Kinoite-sized one costs about 0.1 s, which checks of dates, bindings
        and content checksums need not pay.
        """
        target = self._rev_arg(checksum_or_ref)
        self.require()
        return libostree.read_commit(self.path, target, packages=packages)

    def metadata_keys(self, checksum: str, *, include_managed: bool = False) -> dict[str, gvariant.RawVariant]:
        """Return a commit's metadata as ``{key: RawVariant}``, which ``commit`` writes back byte for byte.

        Keys ostree writes itself (``OSTREE_MANAGED_KEYS``) are left out unless ``include_managed``.
        """
        checksum = self._require_commit(checksum)
        found = libostree.raw_metadata(self.path, checksum)
        return {k: v for k, v in found.items() if include_managed or k not in OSTREE_MANAGED_KEYS}

    def log(self, ref: str) -> list[CommitInfo]:
        """Return the history of ``ref`` (or a checksum), newest first, as far as this repo holds it."""
        return self.log_with_truncation(ref)[0]

    def log_with_truncation(self, ref: str) -> tuple[list[CommitInfo], bool]:
        """Return the history (header fields and version) and whether it ends at a parent not in this repo."""
        target = self._rev_arg(ref)
        self.require()
        return libostree.log(self.path, target)

    def signature_key_ids(self, checksum: str) -> list[str]:
        """Return the long key IDs (16 hex, uppercase) of every GPG signature on a commit, duplicates included."""
        return list(libostree.signature_key_ids(self.path, self._require_commit(checksum)))

    def ls_paths(self, checksum: str) -> list[str]:
        """Return every path in a commit's tree, ``/`` included, in ostree's order."""
        result = self._ostree(["ls"], "-R", "--nul-filenames-only", self._require_commit(checksum))
        return [p for p in result.stdout.split("\0") if p]

    def diff(self, a: str, b: str) -> DiffResult:
        """Return the paths that differ between two commits (or refs)."""
        left, right = self._rev_arg(a), self._rev_arg(b)
        result = self._ostree(["diff"], left, right, check=False)
        if result.returncode != 0:
            if parsers.is_not_found_error(result.stderr):
                raise CommitNotFound(f"{left} or {right} is not in {self.path}: {result.stderr.strip()}")
            raise CommandError(result.argv, result.returncode, result.stdout, result.stderr)
        return parsers.parse_diff(result.stdout)

    # ------------------------------------------------------------------ refs

    def refs(self, prefix: str | None = None) -> dict[str, str]:
        """Return ``{full ref name: checksum}``, optionally only refs under ``prefix`` (a whole path segment)."""
        args = ["--list"]
        if prefix is not None:
            args.append(validate_ref(prefix))
        names = [line.strip() for line in self._ostree(["refs"], *args).stdout.splitlines() if line.strip()]
        if not names:
            return {}
        names.sort()
        checksums = self._ostree(["rev-parse"], *names).stdout.split()
        if len(checksums) != len(names):
            raise OstreeError(f"rev-parse returned {len(checksums)} checksums for {len(names)} refs")
        return dict(zip(names, checksums, strict=True))

    def resolve(self, ref: str) -> str | None:
        """Return the checksum ``ref`` points at, or None if there is no such ref (a checksum must exist)."""
        if is_checksum(ref):
            return ref.lower() if self.has_commit(ref) else None
        name = validate_ref(ref)
        self.require()
        # Through libostree, local refs only: the same answer as `refs --list NAME` + `rev-parse NAME` without two
        # processes (a promotion resolves its ref twice) and without rev-parse's "Refspec not found" error, which
        # reads as a failure in the job log of a first promotion that succeeded.
        checksum = libostree.resolve_local_ref(self.path, name)
        return validate_checksum(checksum) if checksum is not None else None

    def set_ref(self, ref: str, checksum: str) -> None:
        """Point ``ref`` at ``checksum``, creating or moving it; the commit must be in this repo."""
        validate_ref(ref)
        checksum = validate_checksum(checksum)
        # `refs --create` happily writes a dangling ref; fsck then fails on it.
        self._require_commit(checksum)
        self._ostree(["refs"], "--force", f"--create={ref}", checksum)

    def delete_ref(self, ref: str) -> bool:
        """Delete exactly ``ref``; return False if it did not exist."""
        validate_ref(ref)
        # `refs --delete X` deletes every ref under the prefix X, so only run it when X is itself a ref
        # (a ref is a file, so nothing can live under it).
        if ref not in self.refs(ref):
            return False
        self._ostree(["refs"], "--delete", ref)
        return True

    # ------------------------------------------------------------------ promotion

    def pull_local(self, source: Repo, checksum: str, *, depth: int = 0) -> PullResult:
        """Copy one commit (and ``depth`` parents) from ``source`` by checksum; no ref is written.

        Never by ref name: pull-local resolves a ref through a stale source summary if there is one.
        """
        if not is_checksum(checksum):
            raise InvalidChecksum(
                f"pull_local takes a full 64-hex commit checksum, not {checksum!r}: promote by checksum, never by ref"
            )
        checksum = validate_checksum(checksum)
        if depth < -1:
            raise ValueError("depth must be -1 (all), 0 or positive")
        self.require()
        source.require()
        if not source.has_commit(checksum):
            raise CommitNotFound(f"commit {checksum} is not in the source repo {source.path}")
        result = self._ostree(["pull-local"], f"--depth={depth}", str(source.path), checksum)
        if not self.has_commit(checksum):
            raise OstreeError(f"pull-local exited 0 but commit {checksum} is not complete in {self.path}")
        return parsers.parse_pull(result.stdout)

    def pull_and_set_ref(self, source: Repo, checksum: str, ref: str, *, lock_timeout: float = 30) -> PullResult:
        """Pull ``checksum`` from ``source`` and point ``ref`` at it, holding libostree's shared repo lock throughout.

        Without the lock a prune between the two steps deletes the just-pulled commit (no ref names it yet).
        """
        validate_ref(ref)
        with repo_lock(self.path, exclusive=False, timeout=lock_timeout):
            result = self.pull_local(source, checksum)
            self.set_ref(ref, checksum)
        return result

    # ------------------------------------------------------------------ signing and publishing

    def gpg_sign(self, checksum: str, key_id: str, homedir: str | os.PathLike[str]) -> bool:
        """Sign a commit with ``key_id`` unless that key already signed it; return True if a signature was added."""
        checksum = self._require_commit(checksum)
        key = validate_gpg_key_id(key_id)
        # `ostree gpg-sign` appends a duplicate signature when run twice.
        if key[-16:] in self.signature_key_ids(checksum):
            return False
        self._ostree(["gpg-sign"], f"--gpg-homedir={Path(homedir).absolute()}", checksum, key)
        return True

    def update_summary(
        self,
        *,
        gpg_key_id: str | None = None,
        gpg_homedir: str | os.PathLike[str] | None = None,
        allow_unsigned: bool = False,
    ) -> None:
        """Rewrite the summary file, signed when ``gpg_key_id`` is given.

        A repo whose summary is signed is not rewritten unsigned (that deletes ``summary.sig`` and breaks clients
        with gpg-verify-summary) unless ``allow_unsigned``.
        """
        self.require()
        args = ["-u"]
        if gpg_key_id is not None:
            args.append(f"--gpg-sign={validate_gpg_key_id(gpg_key_id)}")
            if gpg_homedir is not None:
                args.append(f"--gpg-homedir={Path(gpg_homedir).absolute()}")
        elif (self.path / "summary.sig").exists() and not allow_unsigned:
            raise OstreeError(
                f"{self.path} has a signed summary; an unsigned `summary -u` would delete summary.sig. "
                "Pass the signing key, or allow_unsigned=True."
            )
        self._wait_for_next_summary_second()
        self._ostree(["summary"], *args)

    def _wait_for_next_summary_second(self) -> None:
        # Clients revalidate the summary with If-Modified-Since, which has one-second resolution: a summary
        # rewritten within the second a client last fetched it gets a 304 and the client keeps the stale copy,
        # then tries to pull a commit the ref no longer names. So never write two summaries in one second.
        summary = self.path / "summary"
        try:
            last = int(summary.stat().st_mtime)
        except FileNotFoundError:
            return
        now = time.time()
        if int(now) <= last:
            time.sleep(last + 1 - now + 0.01)

    def generate_static_delta(self, from_checksum: str | None, to_checksum: str, *, force: bool = False) -> DeltaInfo:
        """Generate a delta (from scratch when ``from_checksum`` is None); skip it if it exists unless ``force``.

        Pass ``force=True`` after re-signing ``to_checksum``: a delta embeds its target's signatures as they were.
        """
        to_checksum = self._require_commit(to_checksum)
        args: list[str] = []
        if from_checksum is None:
            args.append("--empty")
            name = to_checksum
        else:
            from_checksum = self._require_commit(from_checksum)
            args.append(f"--from={from_checksum}")
            name = f"{from_checksum}-{to_checksum}"
        args.append(f"--to={to_checksum}")
        if not force:
            args.append("--if-not-exists")
        self._ostree(["static-delta", "generate"], *args)
        return DeltaInfo.from_name(name)

    def static_deltas(self) -> list[str]:
        """Return the names of the static deltas (``FROM-TO`` or ``TO`` for from-scratch ones)."""
        output = self._ostree(["static-delta", "list"]).stdout
        return [
            line.strip() for line in output.splitlines() if re.fullmatch(r"[0-9a-f]{64}(-[0-9a-f]{64})?", line.strip())
        ]

    def delete_static_delta(self, name: str) -> None:
        """Delete one static delta by name."""
        if not re.fullmatch(r"[0-9a-f]{64}(-[0-9a-f]{64})?", name):
            raise ValueError(f"{name!r} is not a static delta name (TO or FROM-TO checksums)")
        self._ostree(["static-delta", "delete"], name)

    # ------------------------------------------------------------------ housekeeping

    def prune(
        self,
        *,
        depth: int | None = None,
        keep_younger_than: str | None = None,
        refs_only: bool = True,
        dry_run: bool = False,
        only_branches: Sequence[str] = (),
    ) -> PruneResult:
        """Delete objects not reachable from refs (within ``depth`` parents or newer than ``keep_younger_than``).

        Always ``--refs-only``: without it every commit object counts as a root and ``--depth`` does nothing.
        Prune takes libostree's exclusive repo lock itself; call it only while no promotion is in flight.
        """
        if not refs_only:
            raise ValueError("prune always runs with --refs-only; without it --depth has no effect")
        args = ["--refs-only"]
        if depth is not None:
            if depth < -1:
                raise ValueError("depth must be -1 (infinite) or >= 0")
            args.append(f"--depth={depth}")
        if keep_younger_than is not None:
            if not _DATE_SPEC_RE.fullmatch(keep_younger_than) or keep_younger_than.startswith("-"):
                raise ValueError(f"keep_younger_than {keep_younger_than!r} is not a date like '30 days ago'")
            args.append(f"--keep-younger-than={keep_younger_than}")
        args.extend(f"--only-branch={validate_ref(b)}" for b in only_branches)
        if dry_run:
            args.append("--no-prune")
        return parsers.parse_prune(self._ostree(["prune"], *args).stdout)

    def fsck(self, *, verify_bindings: bool = False) -> FsckResult:
        """Run ``ostree fsck``; ok is False on any corruption instead of raising."""
        args = ["--verify-bindings"] if verify_bindings else []
        result = self._ostree(["fsck"], *args, check=False)
        return FsckResult(ok=result.returncode == 0, output=(result.stdout + result.stderr).strip())


__all__ = ["OSTREE_MANAGED_KEYS", "REPO_MODES", "Repo", "validate_gpg_key_id"]
