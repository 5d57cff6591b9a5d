"""Signing keys in the admin: Generate and Import on the stage's page, and no way to store a key without a key."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.releases.models import SigningKey, Stage

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_offers_generate_and_import_on_the_stage_page(stages, admin_user, client_for) -> None:
    prod = stages["prod"]

    body = client_for(admin_user).get(f"/admin/releases/stage/{prod.pk}/change/").content.decode()

    assert f'href="/admin/releases/stage/{prod.pk}/generate-key/"' in body
    assert f'href="/admin/releases/stage/{prod.pk}/import-key/"' in body


def test_it_generates_a_key_from_the_stage_page_after_a_confirmation(
    stages, short_gnupg_root, admin_user, client_for
) -> None:
    prod = stages["prod"]
    client = client_for(admin_user)

    confirm = client.get(f"/admin/releases/stage/{prod.pk}/generate-key/")
    assert confirm.status_code == 200
    assert not SigningKey.objects.exists(), "a GET only asks"
    done = client.post(f"/admin/releases/stage/{prod.pk}/generate-key/")

    key = Stage.objects.get(pk=prod.pk).signing_key
    assert done.status_code == 302
    assert done["Location"] == f"/admin/releases/stage/{prod.pk}/change/"
    assert key is not None
    assert len(key.fingerprint) == 40
    assert "BEGIN PGP PUBLIC KEY BLOCK" in key.public_key
    assert AuditEvent.objects.filter(action="signing_key.generate").count() == 1


def test_it_does_not_offer_adding_an_empty_key(stages, admin_user, client_for) -> None:
    client = client_for(admin_user)

    assert client.get("/admin/releases/signingkey/add/").status_code == 403
    response = client.post("/admin/releases/signingkey/add/", {"name": "empty"})
    assert response.status_code == 403
    assert "Generate" in client.get("/admin/releases/signingkey/").content.decode()
    assert not SigningKey.objects.exists()


def test_the_database_refuses_a_key_record_without_a_key(db) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        SigningKey.objects.create(name="empty", fingerprint="", public_key="", gnupg_home="")
    with pytest.raises(IntegrityError), transaction.atomic():
        SigningKey.objects.create(name="short", fingerprint="-", public_key="x", gnupg_home="/srv/gnupg")
    assert not SigningKey.objects.exists()


def test_model_validation_explains_what_a_key_needs(db) -> None:
    with pytest.raises(ValidationError, match="generate or import one from the stage's page"):
        SigningKey(name="dash", fingerprint="-", public_key="not a key", gnupg_home="/srv/gnupg").full_clean()
    with pytest.raises(ValidationError, match="cannot be blank"):
        SigningKey(name="empty", fingerprint="-", public_key="", gnupg_home="").full_clean()
