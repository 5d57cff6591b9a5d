"""Stage signing keys in the admin: generate one, or import an armored secret key (never shown again), from the
stage's own page (and as a bulk action on the stage list)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse

from kinoite_portal.releases.errors import SigningKeyError
from kinoite_portal.releases.models import Stage
from kinoite_portal.releases.services.signing import signing_key_generate, signing_key_import


class ImportKeyForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="A label; defaults to the key id.")
    armored = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "autocomplete": "off", "spellcheck": "false"}),
        label="Armored secret key",
        help_text="gpg --armor --export-secret-keys KEYID. It is imported into a GnuPG home on the repo host "
        "and never shown again.",
    )


@admin.action(description="Generate a new signing key for the selected stages")
def generate_signing_key(modeladmin: admin.ModelAdmin[Stage], request: HttpRequest, queryset: QuerySet[Stage]) -> None:
    for stage in queryset:
        try:
            key = signing_key_generate(stage=stage, actor=request.user)
        except SigningKeyError as exc:
            modeladmin.message_user(request, f"{stage.name}: {exc}", messages.ERROR)
            continue
        url = reverse("releases:stage_public_key", args=[stage.name])
        modeladmin.message_user(
            request,
            f"{stage.name} now signs with {key.fingerprint}; clients import the public key from {url}",
            messages.SUCCESS,
        )


def import_key_urls(model_admin: admin.ModelAdmin[Stage]) -> list[Any]:
    def import_view(request: HttpRequest, pk: int) -> HttpResponse:
        if not model_admin.has_change_permission(request):
            return HttpResponse(status=403)
        stage = get_object_or_404(Stage, pk=pk)
        form = ImportKeyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                key = signing_key_import(
                    stage=stage,
                    armored=form.cleaned_data["armored"],
                    name=form.cleaned_data["name"],
                    actor=request.user,
                )
            except SigningKeyError as exc:
                form.add_error("armored", str(exc))
            else:
                model_admin.message_user(request, f"{stage.name} now signs with {key.fingerprint}.", messages.SUCCESS)
                return redirect("admin:releases_stage_change", pk)
        context = {
            **model_admin.admin_site.each_context(request),
            "form": form,
            "stage": stage,
            "title": f"Import a signing key for {stage.name}",
            "opts": model_admin.model._meta,
        }
        return render(request, "admin/releases/stage_import_key.html", context)

    def generate_view(request: HttpRequest, pk: int) -> HttpResponse:
        if not model_admin.has_change_permission(request):
            return HttpResponse(status=403)
        stage = get_object_or_404(Stage.objects.select_related("signing_key"), pk=pk)
        if request.method == "POST":
            try:
                key = signing_key_generate(stage=stage, actor=request.user)
            except SigningKeyError as exc:
                model_admin.message_user(request, f"{stage.name}: {exc}", messages.ERROR)
            else:
                url = reverse("releases:stage_public_key", args=[stage.name])
                model_admin.message_user(
                    request,
                    f"{stage.name} now signs with {key.fingerprint}; clients import the public key from {url}",
                    messages.SUCCESS,
                )
            return redirect("admin:releases_stage_change", pk)
        context = {
            **model_admin.admin_site.each_context(request),
            "stage": stage,
            "title": f"Generate a signing key for {stage.name}",
            "opts": model_admin.model._meta,
        }
        return render(request, "admin/releases/stage_generate_key.html", context)

    return [
        path("<int:pk>/import-key/", model_admin.admin_site.admin_view(import_view), name="releases_stage_import_key"),
        path(
            "<int:pk>/generate-key/",
            model_admin.admin_site.admin_view(generate_view),
            name="releases_stage_generate_key",
        ),
    ]
