"""Validate rpm-ostree treefiles and the portal's treefile settings; every message names the bad key."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from croniter import croniter

from kinoite_portal.oci.registry import RegistryError, validate_tag
from kinoite_portal.ostree import InvalidRef, validate_ref
from kinoite_portal.releases.containerfile_schema import containerfile_errors

# A package spec as rpm-ostree takes it: a name, or several separated by whitespace in one string.
PACKAGE_RE = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]*")
BOOT_LOCATIONS = ("new", "modules", "both", "legacy")
NAME_RE = re.compile(r"[-a-zA-Z0-9_]+")
# The values of Treefile.Kind (the model is not imported here: this module is plain validation).
KIND_TREEFILE = "treefile"
KIND_CONTAINERFILE = "containerfile"
KINDS = (KIND_TREEFILE, KIND_CONTAINERFILE)


class TreefileInvalid(ValueError):
    """A treefile or its settings did not validate; ``errors`` maps each field (or treefile key) to messages."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = {key: list(messages) for key, messages in errors.items() if messages}
        super().__init__("; ".join(f"{msg}" for messages in self.errors.values() for msg in messages))


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _str(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _str_list(value: Any) -> str | None:
    return None if _is_str_list(value) else "must be a list of strings"


def _str_or_list(value: Any) -> str | None:
    return None if isinstance(value, str) or _is_str_list(value) else "must be a string or a list of strings"


def _dict(value: Any) -> str | None:
    return None if isinstance(value, dict) else "must be an object"


def _list(value: Any) -> str | None:
    return None if isinstance(value, list) else "must be a list"


def _ref(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string (the ostree ref to commit to)"
    try:
        validate_ref(value)
    except InvalidRef as exc:
        return f"is not a valid ostree ref: {exc}"
    return None


def _packages(value: Any) -> str | None:
    if not _is_str_list(value):
        return "must be a list of package names"
    names = [name for entry in value for name in entry.split()]
    bad = [name for name in names if not PACKAGE_RE.fullmatch(name)]
    if bad:
        return f"has invalid package names: {', '.join(repr(b) for b in bad[:5])}"
    return None


def _boot_location(value: Any) -> str | None:
    if value not in BOOT_LOCATIONS:
        return f"must be one of {', '.join(BOOT_LOCATIONS)}, not {json.dumps(value)}"
    return None


def _releasever(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return 'must be a string or a number, e.g. "41"'
    if not re.fullmatch(r"[0-9A-Za-z]+", str(value)):
        return "may only contain letters and digits"
    return None


# rpm-ostree's treefile keys (docs/treefile.md) and the JSON type each takes.
KEYS: dict[str, Callable[[Any], str | None]] = {
    "ref": _ref,
    "repos": _str_list,
    "lockfile-repos": _str_list,
    "packages": _packages,
    "exclude-packages": _packages,
    "repo-packages": _list,
    "modules": _dict,
    "postprocess": _str_list,
    "postprocess-script": _str,
    "selinux": _bool,
    "boot-location": _boot_location,
    "tmp-is-dir": _bool,
    "include": _str_or_list,
    "arch-include": _dict,
    "conditional-include": _list,
    "releasever": _releasever,
    "automatic-version-prefix": _str,
    "automatic-version-suffix": _str,
    "mutate-os-release": _str,
    "basearch": _str,
    "variables": _dict,
    "gpg-key": _str,
    "documentation": _bool,
    "recommends": _bool,
    "install-langs": _str_list,
    "initramfs-args": _str_list,
    "machineid-compat": _bool,
    "units": _str_list,
    "default-target": _str,
    "etc-group-members": _str_list,
    "preserve-passwd": _bool,
    "check-passwd": _dict,
    "check-groups": _dict,
    "ignore-removed-users": _str_list,
    "ignore-removed-groups": _str_list,
    "add-files": _list,
    "remove-files": _str_list,
    "remove-from-packages": _list,
    "readonly-executables": _bool,
    "cliwrap": _bool,
    "opt-usrlocal": _str,
    "sysroot-readonly": _bool,
    "container-cmd": _str_list,
    "metadata": _dict,
    "rpmdb": _str,
}
# packages-x86_64, packages-aarch64, ... are per-architecture package lists.
ARCH_PACKAGES_RE = re.compile(r"packages-[a-z0-9_]+")
REQUIRED = ("ref", "packages")


def treefile_errors(content: Any) -> dict[str, list[str]]:
    """Return the problems with a parsed treefile, keyed by treefile key ("" for the whole document)."""
    if not isinstance(content, dict):
        return {"": [f"the treefile must be a JSON object, not {type(content).__name__}"]}
    errors: dict[str, list[str]] = {}
    for key in REQUIRED:
        if key not in content:
            errors.setdefault(key, []).append(f"'{key}' is required")
    for key, value in content.items():
        check = KEYS.get(key) or (_packages if ARCH_PACKAGES_RE.fullmatch(key) else None)
        if check is None:
            close = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            errors.setdefault(key, []).append(f"unknown treefile key '{key}'{hint}")
            continue
        problem = check(value)
        if problem:
            errors.setdefault(key, []).append(f"'{key}' {problem}")
    packages = content.get("packages")
    if isinstance(packages, list) and not any(str(entry).strip() for entry in packages):
        errors.setdefault("packages", []).append("'packages' is empty: a treefile must install at least one package")
    return errors


def parse_treefile_json(text: str) -> Any:
    """Parse treefile JSON text; raise TreefileInvalid with the line and column of a syntax error."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TreefileInvalid(
            {"content": [f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"]}
        ) from None


def schedule_error(schedule: str) -> str | None:
    """Return why a cron expression does not parse, or None (an empty schedule means "no schedule")."""
    if not schedule.strip():
        return None
    if len(schedule.split()) != 5 or not croniter.is_valid(schedule):
        return (
            f"schedule {schedule!r} is not a cron expression "
            "(five fields: minute hour day month weekday, e.g. '0 2 * * *')"
        )
    return None


def validate_treefile_settings(
    *, name: str, content: Any, published_ref: str, schedule: str = "", kind: str = KIND_TREEFILE
) -> dict[str, Any]:
    """Return ``content`` if the treefile and its settings are valid; raise TreefileInvalid naming every problem.

    ``kind`` is ``treefile`` (rpm-ostree JSON, published under an ostree ref) or ``containerfile`` (a Containerfile
    with its tag and context, published under an image tag).
    """
    errors: dict[str, list[str]] = {}
    if not NAME_RE.fullmatch(name or ""):
        errors["name"] = [f"name {name!r} must be letters, digits, '-' and '_' (a slug)"]
    content_errors: dict[str, list[str]] = {}
    if kind not in KINDS:
        errors["kind"] = [f"kind {str(kind)[:40]!r} must be one of {', '.join(KINDS)}"]
    elif kind == KIND_CONTAINERFILE:
        content_errors = containerfile_errors(content)
    else:
        content_errors = treefile_errors(content)
    if content_errors:
        errors["content"] = [msg for messages in content_errors.values() for msg in messages]
    if kind == KIND_CONTAINERFILE:
        try:
            validate_tag(published_ref)
        except RegistryError as exc:
            errors["published_ref"] = [f"the published tag (the tag later stages publish the image under): {exc}"]
    else:
        try:
            validate_ref(published_ref)
        except InvalidRef as exc:
            errors["published_ref"] = [f"published ref is not a valid ostree ref: {exc}"]
        else:
            if isinstance(content, dict) and content.get("ref") == published_ref:
                errors["published_ref"] = ["the published ref must differ from the dev ref the treefile composes to"]
    problem = schedule_error(schedule)
    if problem:
        errors["schedule"] = [problem]
    if errors:
        raise TreefileInvalid(errors)
    return dict(content)
