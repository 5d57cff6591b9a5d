"""Serving a stage's repo read-only at /repo/<stage>/ on a first run, where no Apache or nginx stands in front; and
the signatures of an OCI stage's images (its lookaside store) at /sigstore/<stage>/, which clients always read."""

from __future__ import annotations

import hashlib
import mimetypes
import re
from pathlib import Path

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.cache import get_conditional_response

# What an ostree client ever asks a repo for; everything else (locks, tmp/, state/) stays private.
SERVED_TOP_LEVEL = {"config", "summary", "summary.sig", "objects", "deltas", "delta-indexes", "refs"}
# Rewritten in place: revalidated by content, because ostree clients revalidating by mtime at one-second
# resolution kept a stale summary (ostree-lab-notes section 7).
MUTABLE_FILES = {"config", "summary", "summary.sig"}
# Named by their content, so they never change.
IMMUTABLE_TOP_LEVEL = {"objects", "deltas"}


def repo_file_path(repo_dir: Path, relative: str) -> Path:
    """Return the file under ``repo_dir`` that ``relative`` names, refusing anything outside what clients need."""
    parts = Path(relative).parts
    if (
        not parts
        or parts[0] not in SERVED_TOP_LEVEL
        or any(part in {"..", "."} or part.startswith(".") for part in parts)
    ):
        raise Http404("Not part of a served repo.")
    path = (repo_dir / relative).resolve()
    if not path.is_relative_to(repo_dir.resolve()) or not path.is_file():
        raise Http404("No such file in the repo.")
    return path


def repo_file_response(request: HttpRequest, repo_dir: Path, relative: str) -> HttpResponseBase:
    """Return a repo file, with content-based ETags for the files that change in place."""
    path = repo_file_path(repo_dir, relative)
    parts = Path(relative).parts
    if len(parts) == 1 and parts[0] in MUTABLE_FILES:
        body = path.read_bytes()
        etag = f'"{hashlib.sha256(body).hexdigest()}"'
        # Django's own If-None-Match handling (lists, weak tags, "*"): 304 for GET and HEAD.
        response: HttpResponseBase = get_conditional_response(request, etag=etag) or HttpResponse(
            body, content_type="application/octet-stream"
        )
        response["ETag"] = etag
        response["Cache-Control"] = "no-cache"
        return response
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    response = FileResponse(path.open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=31536000, immutable" if parts[0] in IMMUTABLE_TOP_LEVEL else "no-cache"
    return response


# What a container client ever asks a lookaside store for: <repository>@sha256=<hex>/signature-<n>.
_SIGNATURE_PATH = re.compile(
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*@sha256=[0-9a-f]{64}/signature-[1-9][0-9]{0,5}"
)


def signature_file_response(store_dir: Path, relative: str) -> HttpResponseBase:
    """Return one signature of a stage's lookaside store; refuse any other path.

    A digest's signatures are added in place (a rollback signs again), so clients revalidate rather than cache.
    """
    if not _SIGNATURE_PATH.fullmatch(relative):
        raise Http404("Not a signature of the store.")
    path = (store_dir / relative).resolve()
    if not path.is_relative_to(store_dir.resolve()) or not path.is_file():
        raise Http404("No such signature.")
    response = FileResponse(path.open("rb"), content_type="application/octet-stream")
    response["Cache-Control"] = "no-cache"
    return response
