"""Containerfile treefiles: what is stored, how it is checked (service and admin form), and its revisions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kinoite_portal.releases.containerfile_schema import containerfile_errors, containerfile_instructions
from kinoite_portal.releases.models import Treefile, TreefileRevision
from kinoite_portal.releases.services.treefiles import TreefileInvalid, treefile_save

pytestmark = pytest.mark.django_db

CONTAINERFILE = """\
# A bootc desktop image
ARG BASE=scratch
FROM $BASE
COPY etc/ /etc/
COPY usr/bin/hello /usr/bin/hello
LABEL ostree.bootable=1 \\
      containers.bootc=1
"""


def content(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "containerfile": CONTAINERFILE,
        "tag": "latest",
        "releasever": "41",
        "context": {
            "etc/motd": "Welcome to Kinoite\n",
            "usr/bin/hello": {"content": "#!/bin/sh\necho hello\n", "mode": "0755"},
        },
    }
    value.update(changes)
    return {key: item for key, item in value.items() if item is not None}


def save(**changes: Any) -> Treefile:
    return treefile_save(
        name="kinoite-bootc", content=content(**changes), published_ref="stable", kind="containerfile", comment="c"
    )


def test_a_containerfile_is_saved_with_its_kind_and_a_revision_and_its_tag_is_its_dev_ref() -> None:
    treefile = save()

    assert treefile.kind == Treefile.Kind.CONTAINERFILE
    assert treefile.ref == "latest"
    assert treefile.published_ref == "stable"
    assert list(treefile.revisions.values_list("number", flat=True)) == [1]
    assert treefile.revisions.get().content["context"]["usr/bin/hello"]["mode"] == "0755"


def test_an_edit_keeps_a_new_revision_and_an_unchanged_save_none() -> None:
    save()
    save(containerfile=CONTAINERFILE + "LABEL version-scheme=date\n")
    save(containerfile=CONTAINERFILE + "LABEL version-scheme=date\n")

    assert list(TreefileRevision.objects.values_list("number", flat=True).order_by("number")) == [1, 2]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"containerfile": "COPY etc/ /etc/\n"}, "'containerfile' must start with FROM (after optional ARG lines)"),
        ({"containerfile": "# nothing\n\n"}, "'containerfile' is empty: it needs at least a FROM line"),
        ({"containerfile": "FROM scratch\nRUNN true\n"}, "line 2: unknown instruction 'RUNN' (did you mean RUN?)"),
        ({"containerfile": "FROM scratch\nCOPY missing.conf /etc/\n"}, "COPY source 'missing.conf' is not in the"),
        ({"containerfile": "FROM scratch\nCOPY ../../etc/shadow /x\n"}, "must be a path inside the context"),
        ({"containerfile": "FROM scratch\nADD /etc/shadow /x\n"}, "must be a path inside the context"),
        ({"containerfile": "FROM scratch\n" + "LABEL a=b\n" * 7000}, "bytes; the limit is 65536"),
        ({"containerfile": "FROM scratch\0"}, "contains a NUL character"),
        ({"containerfile": ["FROM scratch"]}, "'containerfile' must be a string"),
        ({"containerfile": None}, "'containerfile' is required"),
        ({"tag": "latest; rm -rf /"}, "'tag' 'latest; rm -rf /' is not an image tag"),
        ({"tag": "-latest"}, "'tag' '-latest' is not an image tag"),
        ({"tag": None}, "'tag' is required"),
        ({"releasever": "41 beta"}, "'releasever' must be letters and digits"),
        ({"context": {"../etc/passwd": "x"}}, "path '../etc/passwd' must be relative"),
        ({"context": {"/etc/motd": "x"}}, "path '/etc/motd' must be relative"),
        ({"context": {"etc/motd": {"content": "x", "mode": "4755"}}}, "has mode '4755'"),
        ({"context": {"etc/motd": 42}}, "must be text, or an object"),
        ({"context": {f"f{i}": "x" for i in range(501)}}, "'context' has 501 files; the limit is 500"),
        ({"context": {"a": "x" * 600_000, "b": "y" * 600_000}}, "'context' holds 1200000 bytes"),
        ({"context": ["etc/motd"]}, "'context' must be an object"),
        ({"tags": "latest"}, "unknown key 'tags' for a Containerfile (did you mean 'tag'?)"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_nothing_is_saved(changes, error) -> None:
    with pytest.raises(TreefileInvalid) as refused:
        save(**changes)

    assert error in str(refused.value)
    assert not Treefile.objects.exists()
    assert not TreefileRevision.objects.exists()


def test_a_bad_edit_leaves_the_saved_containerfile_and_its_history_alone() -> None:
    saved = save()

    with pytest.raises(TreefileInvalid):
        save(containerfile="RUN dnf -y install htop\n")

    saved.refresh_from_db()
    assert saved.content == content()
    assert saved.revisions.count() == 1


def test_the_published_tag_is_checked_as_a_tag() -> None:
    with pytest.raises(TreefileInvalid, match="published tag"):
        treefile_save(name="kinoite-bootc", content=content(), published_ref="fedora/stable", kind="containerfile")
    assert not Treefile.objects.exists()


def test_the_kind_is_fixed_once_saved(stages) -> None:
    save()
    from tests.releases.conftest import REF_STABLE, treefile_content

    with pytest.raises(TreefileInvalid, match="the kind is fixed once saved"):
        treefile_save(name="kinoite-bootc", content=treefile_content(), published_ref=REF_STABLE, kind="treefile")
    with pytest.raises(TreefileInvalid, match="kind 'helm' must be one of treefile, containerfile"):
        treefile_save(name="other", content=treefile_content(), published_ref=REF_STABLE, kind="helm")

    assert Treefile.objects.get().kind == "containerfile"
    assert Treefile.objects.count() == 1


def test_an_rpm_ostree_treefile_is_not_accepted_as_a_containerfile(stages) -> None:
    from tests.releases.conftest import REF_STABLE, treefile_content

    with pytest.raises(TreefileInvalid) as refused:
        treefile_save(name="kinoite-x", content=treefile_content(), published_ref=REF_STABLE, kind="containerfile")

    assert "unknown key 'ref' for a Containerfile" in str(refused.value)
    assert "'containerfile' is required" in str(refused.value)


def test_instructions_are_read_with_continuations_comments_and_json_forms() -> None:
    text = 'FROM scratch\n# a comment\nCOPY ["etc/motd", "/etc/motd"]\nRUN a \\\n  # inside\n  && b\nlabel x=1\n'

    assert containerfile_instructions(text) == [
        (1, "FROM", "scratch"),
        (3, "COPY", '["etc/motd", "/etc/motd"]'),
        (4, "RUN", "a && b"),
        (7, "LABEL", "x=1"),
    ]
    ok = {"containerfile": text, "tag": "t", "context": {"etc/motd": "hi"}}
    assert containerfile_errors(ok) == {}
    # Stage copies and URLs need nothing in the context.
    staged = "FROM scratch AS a\nFROM scratch\nCOPY --from=a /usr /usr\nADD https://example.com/x.tar /x\n"
    assert containerfile_errors({"containerfile": staged, "tag": "t"}) == {}


def admin_form(**overrides: Any) -> dict[str, str]:
    data = {
        "name": "kinoite-bootc",
        "kind": "containerfile",
        "description": "bootc desktops",
        "published_ref": "stable",
        "schedule": "0 3 * * *",
        "enabled": "on",
        "content": json.dumps(content()),
        "comment": "first",
    }
    data.update(overrides)
    return data


def test_the_admin_adds_a_containerfile_with_revision_one(admin_user, client_for) -> None:
    response = client_for(admin_user).post("/admin/releases/treefile/add/", admin_form())

    assert response.status_code == 302, response.content.decode()[:3000]
    treefile = Treefile.objects.get()
    assert (treefile.kind, treefile.ref, treefile.schedule) == ("containerfile", "latest", "0 3 * * *")
    assert list(treefile.revisions.values_list("number", "author__username")) == [(1, "root-admin")]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"content": json.dumps(content(containerfile="COPY etc/ /etc/\n"))}, "must start with FROM"),
        ({"content": json.dumps(content(tag="a b"))}, "'a b' is not an image tag"),
        ({"published_ref": "fedora/x86_64/kinoite/stable"}, "the published tag"),
        ({"content": '{"containerfile": "FROM scratch"'}, "malformed JSON at line 1"),
    ],
)
def test_the_admin_refuses_bad_input_and_saves_nothing(admin_user, client_for, overrides, error) -> None:
    response = client_for(admin_user).post("/admin/releases/treefile/add/", admin_form(**overrides))

    assert response.status_code == 200
    assert error in response.content.decode().replace("&#x27;", "'")
    assert not Treefile.objects.exists()
    assert not TreefileRevision.objects.exists()


def test_the_admin_shows_the_kind_of_a_saved_treefile_but_does_not_change_it(admin_user, client_for) -> None:
    treefile = save()
    client = client_for(admin_user)
    url = f"/admin/releases/treefile/{treefile.pk}/change/"

    response = client.post(url, admin_form(kind="treefile", comment="second"))

    assert response.status_code == 302
    treefile.refresh_from_db()
    assert treefile.kind == "containerfile"
    assert "Containerfile (bootc image)" in client.get(url).content.decode()


def test_the_revision_diff_shows_the_containerfile_line_by_line(admin_user, client_for) -> None:
    save()
    save(containerfile=CONTAINERFILE.replace("COPY etc/ /etc/", "COPY etc/motd /etc/motd"))

    page = client_for(admin_user).get("/releases/treefiles/kinoite-bootc/revisions/").content.decode()

    assert '<span class="diff-removed">-  COPY etc/ /etc/</span>' in page
    assert '<span class="diff-added">+  COPY etc/motd /etc/motd</span>' in page
