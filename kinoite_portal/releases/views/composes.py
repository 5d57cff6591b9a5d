from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from kinoite_portal.core.htmx import HtmxHttpRequest, render_poll
from kinoite_portal.core.queues import queue_warning
from kinoite_portal.releases import selectors
from kinoite_portal.releases.errors import ComposeError
from kinoite_portal.releases.models import Compose, Treefile
from kinoite_portal.releases.services.composes import compose_cancel, compose_request
from kinoite_portal.releases.services.queueing import task_not_sent

COMPOSES_PER_PAGE = 50


@require_GET
@permission_required("releases.view_compose", raise_exception=True)
def compose_list(request: HtmxHttpRequest) -> HttpResponse:
    page = Paginator(selectors.compose_list(), COMPOSES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "section": "composes",
        "page": page,
        "composes": page.object_list,
        "requestable": selectors.requestable_commit_ids(list(page.object_list)),
        "treefiles": Treefile.objects.order_by("name"),
    }
    return render(request, "releases/compose_list.html", context)


def _compose(pk: int) -> Compose:
    return get_object_or_404(
        Compose.objects.select_related("treefile", "revision", "stage", "commit", "requested_by"), pk=pk
    )


@require_GET
@permission_required("releases.view_compose", raise_exception=True)
def compose_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    compose = _compose(pk)
    context = {"section": "composes", "compose": compose, "queue_warning": _queue_warning(compose)}
    return render(request, "releases/compose_detail.html", context)


@require_GET
@permission_required("releases.view_compose", raise_exception=True)
def compose_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Return the status partial the detail page polls every 2 s; 286 once the compose has ended."""
    return _status_response(request, _compose(pk))


@require_GET
@permission_required("releases.view_compose", raise_exception=True)
def compose_log(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Return the log lines after ``?offset=`` (characters), the next offset and whether more can come, as JSON.

    The detail page appends what it gets, so the reader's scroll position stays where it is.
    """
    raw = request.GET.get("offset", "0")
    if not raw.isdigit() or len(raw) > 12:
        return JsonResponse({"error": "offset must be a whole number of characters, 0 or more"}, status=400)
    try:
        tail = selectors.compose_log_tail(pk=pk, offset=int(raw))
    except Compose.DoesNotExist:
        raise Http404("No such compose.") from None
    return JsonResponse({"text": tail.text, "offset": tail.offset, "finished": tail.finished})


def _status_response(request: HtmxHttpRequest, compose: Compose) -> HttpResponse:
    context = {"compose": compose, "queue_warning": _queue_warning(compose)}
    return render_poll(request, "releases/compose_status.html", context, finished=compose.is_finished)


def _queue_warning(compose: Compose) -> str | None:
    waiting = compose.state == Compose.State.QUEUED
    return queue_warning("compose", waiting_since=compose.created_at if waiting else None)


@require_POST
@permission_required("releases.start_compose", raise_exception=True)
def compose_start(request: HtmxHttpRequest, name: str) -> HttpResponse:
    treefile = get_object_or_404(Treefile, name=name)
    try:
        compose = compose_request(treefile=treefile, user=request.user, trigger="manual")
    except ComposeError as exc:
        messages.error(request, str(exc))
        if request.htmx:
            return HttpResponse(status=204)
        return redirect("releases:treefile_detail", name=name)
    if task_not_sent(compose):
        messages.warning(
            request,
            f"Compose #{compose.pk} of {treefile.name} is queued, but the worker could not be reached; "
            "it will start when the queue is back.",
        )
    else:
        messages.success(request, f"Compose #{compose.pk} of {treefile.name} queued.")
    url = reverse("releases:compose_detail", args=[compose.pk])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


@require_POST
@permission_required("releases.change_compose", raise_exception=True)
def compose_cancel_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    compose = _compose(pk)
    try:
        compose = compose_cancel(compose=compose, user=request.user)
    except ComposeError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, f"Cancel of compose #{compose.pk} requested.")
    if request.htmx:
        return _status_response(request, _compose(pk))
    return redirect("releases:compose_detail", pk=pk)
