from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from kinoite_portal.core.admin import ReadOnlyAdmin
from kinoite_portal.rollouts.models import Ring, Rollout, RolloutEvent, RolloutRing

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
