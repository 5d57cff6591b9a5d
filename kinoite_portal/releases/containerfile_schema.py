"""Validate a Containerfile treefile: the Containerfile, the tag it builds and the small context tree it copies from.

A treefile of kind ``containerfile`` stores, as JSON::

    {"containerfile": "FROM quay.io/fedora/fedora-bootc:41\\nRUN dnf -y install htop\\n",
     "tag": "latest",                       # the dev stage's tag the build is pushed to (its "ref")
     "releasever": "41",                    # optional: versions are <releasever>.<YYYYMMDD>.<n>, as for composes
     "context": {"etc/motd": "Welcome\\n",   # optional: the files COPY and ADD read, by relative path
                 "usr/bin/hello": {"content": "#!/bin/sh\\necho hi\\n", "mode": "0755"}}}

The context is stored with the revision, so a revision names exactly what was built; it is meant for small files
(configuration, scripts): larger inputs belong in the base image or a package. Every message names the bad key.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from typing import Any

from kinoite_portal.oci.registry import RegistryError, validate_tag

MAX_CONTAINERFILE_BYTES = 64 * 1024
MAX_CONTEXT_FILES = 500
MAX_CONTEXT_BYTES = 1024 * 1024
MAX_CONTEXT_PATH = 255
KEYS = ("containerfile", "tag", "releasever", "context")
REQUIRED = ("containerfile", "tag")
INSTRUCTIONS = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)
PATH_PART_RE = re.compile(r"[A-Za-z0-9._@+-]+")
MODES = ("0644", "0755", "0600", "0700", "0444", "0555")
URL_RE = re.compile(r"(https?|git)://", re.IGNORECASE)


def containerfile_instructions(text: str) -> list[tuple[int, str, str]]:
    """Return (line number, INSTRUCTION, arguments) per instruction: comments dropped, ``\\`` continuations joined."""
    found: list[tuple[int, str, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction is dropped, as buildah does
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined = " ".join(part.strip() for part in pending).strip()
        pending = []
        word, _, rest = joined.partition(" ")
        found.append((start, word.upper(), rest.strip()))
    if pending:
        joined = " ".join(part.strip() for part in pending).strip()
        word, _, rest = joined.partition(" ")
        found.append((start, word.upper(), rest.strip()))
    return found


def _copy_sources(arguments: str) -> list[str]:
    """Return the source paths of a COPY/ADD (shell or JSON form), or [] when it copies from another stage."""
    import json

    words: list[str]
    if arguments.startswith("["):
        try:
            parsed = json.loads(arguments)
        except ValueError:
            return []
        words = [str(word) for word in parsed] if isinstance(parsed, list) else []
    else:
        words = arguments.split()
    options = [word for word in words if word.startswith("--")]
    if any(option.startswith("--from") for option in options):
        return []
    paths = [word for word in words if not word.startswith("--")]
    return paths[:-1]


def _containerfile_errors(text: Any, context_paths: list[str]) -> list[str]:
    if not isinstance(text, str):
        return ["'containerfile' must be a string (the Containerfile's text)"]
    if len(text.encode("utf-8")) > MAX_CONTAINERFILE_BYTES:
        return [f"'containerfile' is {len(text.encode('utf-8'))} bytes; the limit is {MAX_CONTAINERFILE_BYTES}"]
    if "\0" in text:
        return ["'containerfile' contains a NUL character"]
    instructions = containerfile_instructions(text)
    if not instructions:
        return ["'containerfile' is empty: it needs at least a FROM line (e.g. FROM quay.io/fedora/fedora-bootc:41)"]
    errors = []
    first = next((item for item in instructions if item[1] != "ARG"), None)
    if first is None or first[1] != "FROM":
        where = f"line {first[0]} is {first[1]}" if first else "it has only ARG lines"
        errors.append(f"'containerfile' must start with FROM (after optional ARG lines); {where}")
    for number, word, rest in instructions:
        if word not in INSTRUCTIONS:
            close = difflib.get_close_matches(word, INSTRUCTIONS, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            errors.append(f"'containerfile' line {number}: unknown instruction {word[:40]!r}{hint}")
            continue
        if word == "FROM" and not rest:
            errors.append(f"'containerfile' line {number}: FROM needs an image (or scratch)")
        if word in ("COPY", "ADD"):
            errors += _source_errors(number, word, rest, context_paths)
    return errors


def _source_errors(number: int, word: str, rest: str, context_paths: list[str]) -> list[str]:
    sources = _copy_sources(rest)
    if not sources and not rest.split():
        return [f"'containerfile' line {number}: {word} needs a source and a destination"]
    errors = []
    for source in sources:
        if word == "ADD" and URL_RE.match(source):
            continue
        cleaned = source.strip("/") or "."
        if source.startswith("/") or ".." in cleaned.split("/"):
            errors.append(
                f"'containerfile' line {number}: {word} source {source!r} must be a path inside the context, "
                "relative and without '..'"
            )
            continue
        if cleaned == ".":
            continue
        if not any(
            path == cleaned or path.startswith(cleaned + "/") or fnmatch.fnmatchcase(path, cleaned)
            for path in context_paths
        ):
            errors.append(
                f"'containerfile' line {number}: {word} source {source!r} is not in the context; add it under "
                "'context' (a path such as etc/motd, or a folder prefix)"
            )
    return errors


def _context_errors(context: Any) -> tuple[list[str], list[str]]:
    """Return (errors, the context's paths)."""
    if context is None:
        return [], []
    if not isinstance(context, dict):
        return ["'context' must be an object mapping relative paths to file contents"], []
    if len(context) > MAX_CONTEXT_FILES:
        return [f"'context' has {len(context)} files; the limit is {MAX_CONTEXT_FILES}"], []
    errors = []
    total = 0
    paths = []
    for path, entry in context.items():
        parts = path.split("/")
        if (
            len(path) > MAX_CONTEXT_PATH
            or not all(PATH_PART_RE.fullmatch(part) for part in parts)
            or any(part in (".", "..") for part in parts)
        ):
            errors.append(
                f"'context' path {path[:80]!r} must be relative, with parts of A-Z a-z 0-9 . _ @ + - (no '..', "
                f"no empty parts, at most {MAX_CONTEXT_PATH} characters)"
            )
            continue
        if isinstance(entry, dict):
            unknown = sorted(set(entry) - {"content", "mode"})
            if unknown:
                errors.append(f"'context' file {path!r} has unknown keys {', '.join(unknown)} (use content, mode)")
            if entry.get("mode", "0644") not in MODES:
                errors.append(f"'context' file {path!r} has mode {entry.get('mode')!r}; use one of {', '.join(MODES)}")
            content = entry.get("content")
        else:
            content = entry
        if not isinstance(content, str):
            errors.append(f"'context' file {path!r} must be text, or an object with 'content' text and a 'mode'")
            continue
        if "\0" in content:
            errors.append(f"'context' file {path!r} contains a NUL character")
        total += len(content.encode("utf-8"))
        paths.append(path)
    if total > MAX_CONTEXT_BYTES:
        errors.append(
            f"'context' holds {total} bytes; the limit is {MAX_CONTEXT_BYTES} (put large inputs in the image)"
        )
    for path in paths:
        if any(other.startswith(path + "/") for other in paths):
            errors.append(f"'context' path {path!r} is a file and also a folder of other paths")
    return errors, paths


def containerfile_errors(content: Any) -> dict[str, list[str]]:
    """Return the problems with a parsed Containerfile treefile, keyed by its key ("" for the whole document)."""
    if not isinstance(content, dict):
        return {"": [f"a Containerfile treefile must be a JSON object, not {type(content).__name__}"]}
    errors: dict[str, list[str]] = {}
    for key in REQUIRED:
        if key not in content:
            errors.setdefault(key, []).append(f"'{key}' is required")
    for key in content:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            errors.setdefault(key, []).append(f"unknown key '{key}' for a Containerfile{hint}; use {', '.join(KEYS)}")
    context_errors, context_paths = _context_errors(content.get("context"))
    if context_errors:
        errors["context"] = context_errors
    if "containerfile" in content:
        problems = _containerfile_errors(content["containerfile"], context_paths)
        if problems:
            errors["containerfile"] = problems
    if "tag" in content:
        try:
            validate_tag(content["tag"])
        except RegistryError as exc:
            errors["tag"] = [f"'tag' {exc}"]
    releasever = content.get("releasever")
    if "releasever" in content and (
        isinstance(releasever, bool)
        or not isinstance(releasever, str | int)
        or not re.fullmatch(r"[0-9A-Za-z]+", str(releasever))
    ):
        errors["releasever"] = ["'releasever' must be letters and digits, e.g. \"41\""]
    return errors


def context_files(content: dict[str, Any]) -> list[tuple[str, str, int]]:
    """Return (relative path, text, mode) for each file of a validated Containerfile treefile's context."""
    files = []
    for path, entry in sorted((content.get("context") or {}).items()):
        if isinstance(entry, dict):
            files.append((path, str(entry.get("content", "")), int(str(entry.get("mode", "0644")), 8)))
        else:
            files.append((path, str(entry), 0o644))
    return files
