"""Signing keys in the admin: Generate and Import on the stage's page, and no way to store a key without a key."""

from __future__ import annotations

import shutil

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.ostree import gpg
from kinoite_portal.releases.models import SigningKey, Stage
from kinoite_portal.releases.services.signing import signing_key_generate

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


def stage_form_data(stage: Stage, **changes: object) -> dict[str, object]:
    data = {k: ("" if v is None else v) for k, v in model_to_dict(stage).items()}
    data.update(changes)
    return data


def test_picking_a_stored_key_on_the_stage_page_goes_through_the_signing_service(
    stages, short_gnupg_root, admin_user, client_for
) -> None:
    key = signing_key_generate(stage=stages["dev"], queue_resign=False)
    prod = stages["prod"]

    response = client_for(admin_user).post(
        f"/admin/releases/stage/{prod.pk}/change/", stage_form_data(prod, signing_key=key.pk)
    )

    assert response.status_code == 302
    assert Stage.objects.get(pk=prod.pk).signing_key == key
    assert AuditEvent.objects.filter(action="signing_key.set", object_id=str(prod.pk)).count() == 1


def test_picking_a_key_that_cannot_sign_changes_nothing_and_says_why(
    stages, short_gnupg_root, admin_user, client_for
) -> None:
    key = signing_key_generate(stage=stages["dev"], queue_resign=False)
    gpg.kill_agent(key.gnupg_home)
    shutil.rmtree(key.gnupg_home)
    prod = stages["prod"]
    client = client_for(admin_user)

    response = client.post(
        f"/admin/releases/stage/{prod.pk}/change/", stage_form_data(prod, signing_key=key.pk), follow=True
    )

    assert Stage.objects.get(pk=prod.pk).signing_key is None
    assert "cannot sign" in response.content.decode()
