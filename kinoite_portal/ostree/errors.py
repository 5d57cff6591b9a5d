"""Exceptions raised by the ostree layer."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

_SUBCOMMAND_TOOLS = ("ostree", "rpm-ostree")
_SUBCOMMAND_RE = re.compile(r"[a-z][a-z-]*")


class OstreeError(Exception):
    """Base class for every error raised by kinoite_portal.ostree."""


class CommandError(OstreeError):
    """A command exited non-zero (or was stopped); carries argv, exit code and output."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str = "", stderr: str = "") -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(self._message())

    @property
    def command_name(self) -> str:
        """Return the program name plus its subcommand, e.g. ``ostree pull-local``."""
        if not self.argv:
            return "command"
        name = self.argv[0].rsplit("/", 1)[-1]
        words = [name]
        if name in _SUBCOMMAND_TOOLS:
            # ostree and rpm-ostree take one or two subcommand words before any option.
            for arg in self.argv[1:3]:
                if not _SUBCOMMAND_RE.fullmatch(arg):
                    break
                words.append(arg)
        return " ".join(words)

    def first_error_line(self) -> str:
        """Return the most useful line of stderr (the ``error:`` line if there is one)."""
        lines = [line.strip() for line in (self.stderr or self.stdout).splitlines() if line.strip()]
        for line in lines:
            if line.startswith("error:"):
                return line
        return lines[-1] if lines else "no output"

    def _message(self) -> str:
        return f"{self.command_name} failed (exit {self.returncode}): {self.first_error_line()}"


class CommandTimeout(CommandError):
    """A command ran longer than its timeout and was killed."""

    def __init__(self, argv: Sequence[str], timeout: float, stdout: str = "", stderr: str = "") -> None:
        self.timeout = timeout
        super().__init__(argv, -9, stdout, stderr)

    def _message(self) -> str:
        return f"{self.command_name} timed out after {self.timeout:g} s and was killed: {shlex.join(self.argv)}"


class CommandCancelled(CommandError):
    """A streamed command was stopped because its caller asked to cancel."""

    def _message(self) -> str:
        return f"{self.command_name} was cancelled: {shlex.join(self.argv)}"


# The package that brings each binary the portal runs (Debian's names; the same on Fedora but for gnupg2).
PACKAGE_OF_TOOL = {
    "rpm-ostree": "rpm-ostree",
    "gpg": "gnupg",
    "gpgconf": "gnupg",
    "skopeo": "skopeo",
    "buildah": "buildah",
    "rpm": "rpm",
}


class ToolMissing(OstreeError):
    """A required binary is not on PATH."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        package = PACKAGE_OF_TOOL.get(binary, "ostree")
        super().__init__(
            f"{binary!r} was not found on PATH; install the {package!r} package on this host "
            f"(e.g. apt-get install {package})"
        )


class RepoMissing(OstreeError):
    """The repo path does not exist or is not an ostree repo."""


class InvalidRef(OstreeError, ValueError):
    """A ref name is not safe to pass to ostree."""


class InvalidChecksum(OstreeError, ValueError):
    """A value is not a full 64-hex commit checksum."""


class InvalidRemoteName(OstreeError, ValueError):
    """A remote name is not safe to pass to ostree."""


class CommitNotFound(OstreeError):
    """A commit or ref is not present in the repo."""


class LockTimeout(OstreeError):
    """A lock could not be taken before the timeout."""


class GvariantError(OstreeError, ValueError):
    """GVariant text could not be parsed or a value could not be formatted."""
