"""Forms for editing treefiles in the admin: JSON in a textarea, validated before anything is saved."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.html import format_html
from django.utils.safestring import SafeString

from kinoite_portal.releases.models import Stage, Treefile
from kinoite_portal.releases.services.stages import stage_kind_errors
from kinoite_portal.releases.treefile_schema import (
    TreefileInvalid,
    parse_treefile_json,
    validate_treefile_settings,
)


class CodeTextarea(forms.Textarea):
    """A textarea for code: monospace, no wrapping, with line numbers (static files only, no inline script or style)."""

    class Media:
        css = {"all": ["css/code-editor.css"]}
        js = ["js/code-editor.js"]

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"rows": 28, "cols": 100, "spellcheck": "false", "wrap": "off", **(attrs or {})})

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> SafeString:
        area = super().render(name, value, attrs, renderer)
        # Numbered on the server too, so the numbers are right before the script runs (and without it).
        lines = (self.format_value(value) or "").count("\n") + 1
        numbers = "\n".join(str(n) for n in range(1, lines + 1))
        return format_html(
            '<div class="code-editor"><pre class="code-lines" aria-hidden="true">{}</pre>{}</div>', numbers, area
        )


class TreefileForm(forms.ModelForm):  # type: ignore[type-arg]
    content = forms.CharField(
        widget=CodeTextarea(),
        help_text='The rpm-ostree treefile as JSON (its "ref" is the dev ref composes commit to); for a Containerfile, '
        '{"containerfile": "FROM ...", "tag": "latest", "context": {"etc/motd": "..."}}: the build is pushed to the '
        "dev stage's tag, COPY and ADD read the context's files.",
    )
    comment = forms.CharField(max_length=200, required=False, help_text="Why this change (kept with the revision).")

    class Meta:
        model = Treefile
        fields = ["name", "kind", "description", "published_ref", "schedule", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:
            # Left out (older clients, scripts), a new treefile is an rpm-ostree treefile, as before kinds existed.
            self.fields["kind"].required = False
        if self.instance.pk and not self.is_bound:
            self.initial["content"] = json.dumps(self.instance.content, indent=2, ensure_ascii=False)

    def clean_content(self) -> Any:
        try:
            return parse_treefile_json(self.cleaned_data["content"])
        except TreefileInvalid as exc:
            raise forms.ValidationError(exc.errors["content"]) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "content" not in cleaned or self.errors.get("name") or self.errors.get("published_ref"):
            return cleaned
        try:
            validate_treefile_settings(
                name=cleaned.get("name") or self.instance.name,
                content=cleaned["content"],
                published_ref=cleaned.get("published_ref", ""),
                schedule=cleaned.get("schedule", "") or "",
                kind=cleaned.get("kind") or self.instance.kind or Treefile.Kind.TREEFILE,
            )
        except TreefileInvalid as exc:
            for field, messages in exc.errors.items():
                self.add_error(field if field in self.fields else None, messages)
        return cleaned


class StageForm(forms.ModelForm):  # type: ignore[type-arg]
    """A stage in the admin: what its kind needs is checked before anything is saved."""

    public_url = forms.URLField(
        required=False, assume_scheme="https", help_text=Stage._meta.get_field("public_url").help_text
    )

    class Meta:
        model = Stage
        fields = [
            "name",
            "order",
            "kind",
            "repo_path",
            "image_registry",
            "image_repository",
            "registry_tls_verify",
            "public_url",
            "signing_key",
            "required_approvals",
            "min_days_in_previous_stage",
            "expedite_extra_approvals",
            "rollback_required_approvals",
            "retention_depth",
        ]
        help_texts = {
            "kind": "An OCI stage's registry credentials are not kept here: put them in the worker's containers "
            "auth file (PORTAL_REGISTRY_AUTH_FILE, mode 0600), e.g. with skopeo login --authfile.",
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        errors = stage_kind_errors(
            kind=str(cleaned.get("kind") or ""),
            repo_path=str(cleaned.get("repo_path") or ""),
            image_registry=str(cleaned.get("image_registry") or ""),
            image_repository=str(cleaned.get("image_repository") or ""),
        )
        for name, message in errors.items():
            self.add_error(name if name in self.fields else None, message)
        if self.instance.pk and "kind" in self.changed_data and self.instance.refs.exists():
            self.add_error("kind", "This stage already has refs or tags recorded; its kind cannot change.")
        return cleaned
