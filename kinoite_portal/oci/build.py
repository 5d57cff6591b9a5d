"""Build an image from a Containerfile with buildah and push it to a registry, recording the pushed digest.

buildah keeps its images under a storage root of the caller's choosing (``--root``/``--runroot``, the ``vfs`` driver,
which needs no kernel overlay support and works in containers and CI), so a worker's builds never mix with the
host's own container storage. Every command goes through the runner: argument lists, a deadline shared by the build
and the push, the process group killed on timeout or cancel, each output line streamed to the job log.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kinoite_portal.ostree.errors import CommandCancelled, CommandError, CommandTimeout, OstreeError
from kinoite_portal.ostree.runner import LogSink, NullLog, run, stream

BUILD_TIMEOUT = 4 * 3600.0
RMI_TIMEOUT = 120.0
DIGEST_RE = re.compile(r"sha256:([0-9a-f]{64})")
LABEL_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}")
MAX_LABEL_VALUE = 4096


class InvalidLabel(OstreeError, ValueError):
    """A label is not safe to pass to buildah."""


class BuildFailed(CommandError):
    """``buildah build`` or ``buildah push`` exited non-zero; the message carries buildah's own ``Error:`` line."""

    def first_error_line(self) -> str:
        lines = [line.strip() for line in (self.stderr or self.stdout).splitlines() if line.strip()]
        # buildah (Go) writes "Error: ..." last; a failed RUN step's output comes before it.
        for line in reversed(lines):
            if line.lower().startswith("error:"):
                return line
        return lines[-1] if lines else "no output"

    @property
    def command_name(self) -> str:
        words = [self.argv[0].rsplit("/", 1)[-1] if self.argv else "buildah"]
        words += [arg for arg in self.argv[1:] if arg in ("build", "push")][:1]
        return " ".join(words)


def _label_args(labels: Mapping[str, str]) -> list[str]:
    args = []
    for key, value in sorted(labels.items()):
        if not LABEL_KEY_RE.fullmatch(key):
            raise InvalidLabel(f"label key {key[:60]!r} is not allowed")
        if not isinstance(value, str) or len(value) > MAX_LABEL_VALUE or any(c in value for c in "\n\r\0"):
            raise InvalidLabel(f"label {key} has a value that is not one line of text")
        args.append(f"--label={key}={value}")
    return args


@dataclass(frozen=True)
class BuildahStore:
    """Where buildah keeps images and containers: a root (layers) and a runroot (locks, state) of our own."""

    root: Path
    runroot: Path

    def options(self) -> list[str]:
        """Return buildah's global options that select this store."""
        return [f"--root={self.root.absolute()}", f"--runroot={self.runroot.absolute()}", "--storage-driver=vfs"]


@dataclass(frozen=True)
class PushedImage:
    """An image built and pushed: its local image id, where it went and the manifest digest the registry holds."""

    image_id: str
    reference: str
    digest: str

    @property
    def digest_hex(self) -> str:
        """Return the digest's 64 hex digits (without ``sha256:``)."""
        return self.digest.split(":", 1)[1]


def buildah_build_argv(
    *,
    store: BuildahStore,
    containerfile: Path,
    context_dir: Path,
    iidfile: Path,
    labels: Mapping[str, str],
    isolation: str = "",
) -> list[str]:
    """Return the argv of ``buildah build`` for one Containerfile and its context folder."""
    argv = [
        "buildah",
        *store.options(),
        "build",
        f"--file={containerfile.absolute()}",
        f"--iidfile={iidfile.absolute()}",
    ]
    if isolation:
        argv.append(f"--isolation={isolation}")
    # Absolute, so a context path can never be read as an option.
    return [*argv, *_label_args(labels), str(context_dir.absolute())]


def buildah_push_argv(
    *,
    store: BuildahStore,
    image_id: str,
    reference: str,
    digestfile: Path,
    tls_verify: bool = True,
    authfile: Path | None = None,
) -> list[str]:
    """Return the argv of ``buildah push`` of a local image id to ``docker://reference``."""
    argv = [
        "buildah",
        *store.options(),
        "push",
        f"--tls-verify={'true' if tls_verify else 'false'}",
        f"--digestfile={digestfile.absolute()}",
    ]
    if authfile is not None:
        argv.append(f"--authfile={authfile.absolute()}")
    return [*argv, image_id, f"docker://{reference}"]


def _read_id(path: Path, what: str) -> str:
    text = path.read_text().strip() if path.is_file() else ""
    match = DIGEST_RE.fullmatch(text)
    if match is None:
        raise OstreeError(f"buildah exited 0 but wrote no {what} to {path} (found {text[:80]!r})")
    return match.group(1)


def build_and_push(
    *,
    containerfile: Path,
    context_dir: Path,
    reference: str,
    store: BuildahStore,
    workdir: Path,
    labels: Mapping[str, str] | None = None,
    tls_verify: bool = True,
    authfile: Path | None = None,
    isolation: str = "",
    log: LogSink | None = None,
    timeout: float = BUILD_TIMEOUT,
    should_cancel: Callable[[], bool] | None = None,
) -> PushedImage:
    """Build ``containerfile`` in ``context_dir``, push the result to ``docker://reference`` and return its digest.

    The build and the push share one deadline (``timeout`` seconds). Raises BuildFailed with buildah's error,
    CommandTimeout or CommandCancelled (the process group is killed; nothing was pushed if the build was stopped).
    The built image is removed from the store afterwards; base images pulled by ``FROM`` stay as a cache.
    """
    now = time.monotonic
    sink: LogSink = log if log is not None else NullLog()
    deadline = now() + timeout
    workdir.mkdir(parents=True, exist_ok=True)
    iidfile = workdir / "image-id"
    digestfile = workdir / "digest"
    # Stale files from an earlier run must not be mistaken for this run's image.
    iidfile.unlink(missing_ok=True)
    digestfile.unlink(missing_ok=True)
    build = buildah_build_argv(
        store=store,
        containerfile=containerfile,
        context_dir=context_dir,
        iidfile=iidfile,
        labels=labels or {},
        isolation=isolation,
    )
    _stream(build, sink, deadline - now(), should_cancel)
    image_id = _read_id(iidfile, "image id")
    try:
        if should_cancel is not None and should_cancel():
            sink.write("! cancelled before the push")
            raise CommandCancelled(build, 0, "", "")
        push = buildah_push_argv(
            store=store,
            image_id=image_id,
            reference=reference,
            digestfile=digestfile,
            tls_verify=tls_verify,
            authfile=authfile,
        )
        _stream(push, sink, deadline - now(), should_cancel)
        digest = _read_id(digestfile, "digest")
    finally:
        # vfs keeps a full copy of every layer: a worker that kept each build would fill its disk.
        run(["buildah", *store.options(), "rmi", image_id], log=sink, timeout=RMI_TIMEOUT, check=False)
    sink.write(f"Pushed {reference}@sha256:{digest}")
    return PushedImage(image_id=image_id, reference=reference, digest=f"sha256:{digest}")


def _stream(argv: list[str], sink: LogSink, remaining: float, should_cancel: Callable[[], bool] | None) -> None:
    if remaining <= 0:
        sink.write("! no time left before the deadline")
        raise CommandTimeout(argv, 0, "", "")
    try:
        # Rounded: the log says "killed after 3 s", not after 2.99985 s of a 3 s deadline.
        stream(argv, log=sink, timeout=max(0.1, round(remaining, 1)), should_cancel=should_cancel)
    except (CommandTimeout, CommandCancelled):
        raise
    except CommandError as exc:
        raise BuildFailed(exc.argv, exc.returncode, exc.stdout, exc.stderr) from None


__all__ = [
    "BUILD_TIMEOUT",
    "BuildFailed",
    "BuildahStore",
    "InvalidLabel",
    "PushedImage",
    "build_and_push",
    "buildah_build_argv",
    "buildah_push_argv",
]
