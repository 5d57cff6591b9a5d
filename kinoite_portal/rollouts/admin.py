from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path

from kinoite_portal.core.admin import ReadOnlyAdmin
from kinoite_portal.releases.models import Stage
from kinoite_portal.rollouts.models import DEFAULT_RING_NAMES, Ring, Rollout, RolloutEvent, RolloutRing
from kinoite_portal.rollouts.services.rings import rings_create_defaults
from kinoite_portal.rollouts.services.rollouts import RolloutError

RING_MEMBERSHIP = (
    "A host listed here belongs to the first ring that lists it, whatever its department; otherwise to the first ring"
    " that lists its department. Hosts in no ring belong to the last ring, which also moves the plain stage ref."
)


@admin.register(Ring)
class RingAdmin(admin.ModelAdmin):
    """Rings per stage: who receives a commit first, and what their health must show before the next ring does."""

    list_display = [
        "stage",
        "order",
        "name",
        "soak_time",
        "success_threshold",
        "failure_threshold",
        "update_timeout",
        "auto_advance",
    ]
    list_display_links = ["name"]
    list_filter = ["stage"]
    filter_horizontal = ["departments"]
    autocomplete_fields = ["hosts"]
    fieldsets = [
        (None, {"fields": ["stage", "order", "name"]}),
        ("Members", {"fields": ["departments", "hosts"], "description": RING_MEMBERSHIP}),
        ("Gate", {"fields": ["soak_time", "success_threshold", "failure_threshold", "update_timeout", "auto_advance"]}),
    ]

    def get_urls(self) -> list[Any]:
        create_defaults = path(
            "create-defaults/",
            self.admin_site.admin_view(self.create_defaults_view),
            name="rollouts_ring_create_defaults",
        )
        return [create_defaults, *super().get_urls()]

    def create_defaults_view(self, request: HttpRequest) -> HttpResponse:
        """The "Default rings" button: pilot -> early -> broad for a stage that has no rings yet."""
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        form = DefaultRingsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            stage = form.cleaned_data["stage"]
            try:
                rings_create_defaults(stage=stage, actor=request.user)
            except RolloutError as exc:
                form.add_error("stage", str(exc))
            else:
                self.message_user(
                    request,
                    f"{stage.name} now has the rings {' -> '.join(DEFAULT_RING_NAMES)}. They start empty: put "
                    "departments or hosts into pilot and early; every other host is in the last ring.",
                    messages.SUCCESS,
                )
                return redirect("admin:rollouts_ring_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Give a stage the default rings",
            "ring_names": DEFAULT_RING_NAMES,
            "opts": self.model._meta,
        }
        return render(request, "admin/rollouts/ring_create_defaults.html", context)


class DefaultRingsForm(forms.Form):
    stage = forms.ModelChoiceField(
        queryset=Stage.objects.filter(order__gt=0),
        help_text="Rings shape how a promotion INTO this stage reaches its desktops.",
    )


ROLLOUT_RING_FIELDS = ["order", "name", "ref", "state", "move_requested_at", "moved_at", "gate_passed_at"]
ROLLOUT_EVENT_FIELDS = ["created_at", "kind", "ring", "actor", "message"]


class RolloutRingInline(admin.TabularInline):
    model = RolloutRing
    extra = 0
    can_delete = False
    fields = [*ROLLOUT_RING_FIELDS, "advance_reason"]
    readonly_fields = [*ROLLOUT_RING_FIELDS, "advance_reason"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RolloutEventInline(admin.TabularInline):
    model = RolloutEvent
    extra = 0
    can_delete = False
    fields = [*ROLLOUT_EVENT_FIELDS]
    readonly_fields = ROLLOUT_EVENT_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Rollout)
class RolloutAdmin(ReadOnlyAdmin):
    """Rollouts are started by promotions and moved by the gates; approvers act on the rollout page or the API."""

    list_display = ["pk", "stage", "stage_ref", "commit", "state", "created_at", "finished_at"]
    list_filter = ["stage", "state"]
    inlines = [RolloutRingInline, RolloutEventInline]
