"""Editing treefiles in the admin: validated JSON, a revision per save, and a diff between revisions."""

from __future__ import annotations

import json

import pytest

from kinoite_portal.releases.models import Treefile, TreefileRevision
from tests.releases.conftest import REF_STABLE, treefile_content

pytestmark = pytest.mark.django_db


def form_data(**overrides):
    data = {
        "name": "kinoite-lab",
        "description": "Lab desktops",
        "published_ref": "fedora/x86_64/kinoite-lab/stable",
        "schedule": "0 2 * * *",
        "enabled": "on",
        "content": json.dumps(treefile_content(ref="fedora/x86_64/kinoite-lab/dev")),
        "comment": "first",
    }
    data.update(overrides)
    return data


def test_adding_a_treefile_saves_it_with_revision_one(admin_user, client_for, stages) -> None:
    response = client_for(admin_user).post("/admin/releases/treefile/add/", form_data())

    assert response.status_code == 302, response.content.decode()[:3000]
    treefile = Treefile.objects.get(name="kinoite-lab")
    assert treefile.content["ref"] == "fedora/x86_64/kinoite-lab/dev"
    assert list(treefile.revisions.values_list("number", "author__username", "comment")) == [(1, "root-admin", "first")]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"content": '{"ref": "a/b", "packages": ["git"'}, "malformed JSON at line 1"),
        ({"content": json.dumps(treefile_content(pakages=["x"]))}, "unknown treefile key &#x27;pakages&#x27;"),
        ({"content": json.dumps(treefile_content(ref="bad ref!"))}, "is not a valid ostree ref"),
        ({"content": json.dumps(treefile_content(packages=[]))}, "&#x27;packages&#x27; is empty"),
        ({"published_ref": "-stable"}, "published ref is not a valid ostree ref"),
        ({"schedule": "61 * * * *"}, "is not a cron expression"),
    ],
)
def test_bad_input_shows_an_error_and_saves_nothing(admin_user, client_for, stages, overrides, error) -> None:
    response = client_for(admin_user).post("/admin/releases/treefile/add/", form_data(**overrides))

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Treefile.objects.exists()
    assert not TreefileRevision.objects.exists()


def test_a_bad_edit_leaves_the_saved_treefile_alone(admin_user, client_for, treefile) -> None:
    url = f"/admin/releases/treefile/{treefile.pk}/change/"
    response = client_for(admin_user).post(url, form_data(content='{"ref": "fedora/x86_64/kinoite/dev"}'))

    assert response.status_code == 200
    assert "&#x27;packages&#x27; is required" in response.content.decode()
    treefile.refresh_from_db()
    assert treefile.content == treefile_content()
    assert treefile.revisions.count() == 1


def test_an_edit_keeps_a_revision_and_the_diff_page_shows_it(admin_user, client_for, treefile) -> None:
    client = client_for(admin_user)
    content = treefile_content(packages=[*treefile_content()["packages"], "flatpak"])
    data = form_data(content=json.dumps(content), published_ref=REF_STABLE, comment="add flatpak")
    response = client.post(f"/admin/releases/treefile/{treefile.pk}/change/", data)
    assert response.status_code == 302

    page = client.get(f"/releases/treefiles/{treefile.name}/revisions/").content.decode()

    assert treefile.revisions.count() == 2
    assert "kinoite r1 → r2" in page or "r1 → r2" in page
    assert '<span class="diff-added">+    &quot;flatpak&quot;</span>' in page
    assert "add flatpak" in page
