from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from kinoite_portal.fleet.models import CheckIn, Department, EnrollmentToken, Host


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["heads"]


@admin.register(EnrollmentToken)
class EnrollmentTokenAdmin(admin.ModelAdmin):
    list_display = ["department", "name", "prefix", "expires_at", "uses", "max_uses", "revoked_at"]
    readonly_fields = ["prefix", "token_hash", "uses", "created_by", "created_at"]


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = ["hostname", "department", "booted_version", "last_checkin_at", "health", "token_revoked_at"]
    list_filter = ["department", "health", "is_silent"]
    search_fields = ["hostname", "machine_id"]
    readonly_fields = [f.name for f in Host._meta.fields if f.name not in {"department", "hostname"}]


@admin.register(CheckIn)
class CheckInAdmin(admin.ModelAdmin):
    list_display = ["host", "received_at", "booted_version", "remote_addr"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
