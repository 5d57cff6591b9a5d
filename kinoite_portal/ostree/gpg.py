"""Manage the GnuPG keys that sign commits and summaries (every gpg call goes through runner.run)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import OstreeError
from .runner import CommandResult, LogSink, run

_FPR_RE = re.compile(r"[0-9A-F]{40}")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")
GPG_TIMEOUT = 60.0


class GpgError(OstreeError):
    """A key could not be created, imported, exported or used."""


def ensure_homedir(homedir: str | os.PathLike[str]) -> Path:
    """Create ``homedir`` (and parents) if needed and make it 0700, as gpg requires; return it as an absolute path."""
    path = Path(homedir).absolute()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def _gpg(
    homedir: Path, *args: str, input_text: str | None = None, log: LogSink | None = None, check: bool = True
) -> CommandResult:
    return run(
        ["gpg", f"--homedir={homedir}", "--batch", "--no-tty", "--status-fd=1", *args],
        input_text=input_text,
        log=log,
        timeout=GPG_TIMEOUT,
        check=check,
    )


def _status(stdout: str, keyword: str) -> list[list[str]]:
    rows = []
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "[GNUPG:]" and parts[1] == keyword:
            rows.append(parts[2:])
    return rows


def validate_fingerprint(fpr: str) -> str:
    """Return ``fpr`` uppercased if it is a 40-hex fingerprint."""
    value = fpr.upper().replace(" ", "")
    if not _FPR_RE.fullmatch(value):
        raise ValueError(f"{fpr!r} is not a 40-hex GPG fingerprint")
    return value


def generate_key(homedir: str | os.PathLike[str], name: str, email: str, *, log: LogSink | None = None) -> str:
    """Create an unprotected, non-expiring RSA 3072 signing key and return its fingerprint."""
    if not name.strip() or any(ch in name for ch in "\n\r<>\0"):
        raise ValueError(f"key name {name!r} must be one line without '<' or '>'")
    if not _EMAIL_RE.fullmatch(email):
        raise ValueError(f"{email!r} is not an email address")
    home = ensure_homedir(homedir)
    spec = "\n".join(
        [
            "%no-protection",
            "Key-Type: RSA",
            "Key-Length: 3072",
            "Key-Usage: sign",
            f"Name-Real: {name.strip()}",
            f"Name-Email: {email}",
            "Expire-Date: 0",
            "%commit",
            "",
        ]
    )
    result = _gpg(home, "--gen-key", input_text=spec, log=log)
    created = _status(result.stdout, "KEY_CREATED")
    if not created or len(created[0]) < 2:
        raise GpgError(f"gpg --gen-key did not report a new key: {result.stderr.strip()[-300:]}")
    return validate_fingerprint(created[0][1])


def import_secret_key(homedir: str | os.PathLike[str], armored: str, *, log: LogSink | None = None) -> str:
    """Import an armored secret key and return its fingerprint."""
    if "PRIVATE KEY BLOCK" not in armored:
        raise ValueError("expected an armored secret key (-----BEGIN PGP PRIVATE KEY BLOCK-----)")
    home = ensure_homedir(homedir)
    result = _gpg(home, "--import", input_text=armored, log=log)
    fingerprints = []
    for row in _status(result.stdout, "IMPORT_OK"):
        # IMPORT_OK <flags> <fpr>: flag 16 means the key contains a secret part.
        if len(row) >= 2 and int(row[0]) & 16 and row[1] not in fingerprints:
            fingerprints.append(row[1])
    if not fingerprints:
        raise GpgError(f"gpg --import imported no secret key: {result.stderr.strip()[-300:]}")
    if len(fingerprints) > 1:
        raise GpgError(f"the armored block holds {len(fingerprints)} secret keys; import one at a time")
    return validate_fingerprint(fingerprints[0])


def export_public_key(homedir: str | os.PathLike[str], fpr: str, *, log: LogSink | None = None) -> str:
    """Return the armored public key for ``fpr``."""
    fingerprint = validate_fingerprint(fpr)
    result = run(
        ["gpg", f"--homedir={ensure_homedir(homedir)}", "--batch", "--no-tty", "--armor", "--export", fingerprint],
        log=log,
        timeout=GPG_TIMEOUT,
    )
    if "BEGIN PGP PUBLIC KEY BLOCK" not in result.stdout:
        raise GpgError(f"no public key {fingerprint} in {homedir}")
    return result.stdout


def export_public_keyring(homedir: str | os.PathLike[str], fpr: str, dest: str | os.PathLike[str]) -> Path:
    """Write ``fpr``'s public key as a binary keyring file (what OSTREE_GPG_HOME directories hold)."""
    fingerprint = validate_fingerprint(fpr)
    target = Path(dest).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    run(
        [
            "gpg",
            f"--homedir={ensure_homedir(homedir)}",
            "--batch",
            "--no-tty",
            "--yes",
            f"--output={target}",
            "--export",
            fingerprint,
        ],
        timeout=GPG_TIMEOUT,
    )
    return target


def can_sign(homedir: str | os.PathLike[str], fpr: str, *, log: LogSink | None = None) -> bool:
    """Return True if the key ``fpr`` in ``homedir`` really signs (a test blob, without prompting)."""
    fingerprint = validate_fingerprint(fpr)
    home = Path(homedir).absolute()
    if not home.is_dir():
        return False
    result = _gpg(
        home,
        "--pinentry-mode=loopback",
        "--passphrase=",
        f"--local-user={fingerprint}",
        "--armor",
        "--detach-sign",
        input_text="kinoite-portal signing test\n",
        log=log,
        check=False,
    )
    return result.returncode == 0 and "BEGIN PGP SIGNATURE" in result.stdout


def homes_under(root: str | os.PathLike[str]) -> list[Path]:
    """Return the GnuPG homes kept under ``root`` (one folder per key), sorted; none when ``root`` does not exist."""
    folder = Path(root)
    return sorted(home for home in folder.iterdir() if home.is_dir()) if folder.is_dir() else []


def kill_agent(homedir: str | os.PathLike[str]) -> None:
    """Stop the gpg-agent started for ``homedir`` (by homedir, never by process name)."""
    home = Path(homedir).absolute()
    if home.is_dir():
        run(["gpgconf", f"--homedir={home}", "--kill", "gpg-agent"], timeout=30, check=False)
