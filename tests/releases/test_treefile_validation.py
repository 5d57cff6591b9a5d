"""treefile_save validates the treefile and its settings; a refused save changes nothing."""

from __future__ import annotations

import pytest

from kinoite_portal.releases.models import Treefile, TreefileRevision
from kinoite_portal.releases.services.treefiles import TreefileInvalid, treefile_save
from kinoite_portal.releases.treefile_schema import parse_treefile_json, treefile_errors
from tests.releases.conftest import REF_STABLE, treefile_content

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"pakages": ["git"]}, "content", "unknown treefile key 'pakages' (did you mean 'packages'?)"),
        ({"selinux": "yes"}, "content", "'selinux' must be true or false"),
        ({"repos": "fedora"}, "content", "'repos' must be a list of strings"),
        ({"boot-location": "sideways"}, "content", "'boot-location' must be one of new, modules, both, legacy"),
        ({"ref": "fedora/x86_64/kinoite dev"}, "content", "'ref' is not a valid ostree ref"),
        ({"ref": "../etc/passwd"}, "content", "'ref' is not a valid ostree ref"),
        ({"packages": []}, "content", "'packages' is empty"),
        ({"packages": ["git; rm -rf /"]}, "content", "'packages' has invalid package names"),
        ({"postprocess": "systemctl enable sddm"}, "content", "'postprocess' must be a list of strings"),
        ({"releasever": 41.5}, "content", "'releasever' must be a string or a number"),
    ],
)
def test_it_refuses_a_bad_treefile_naming_the_key_and_saves_nothing(treefile, changes, field, message) -> None:
    with pytest.raises(TreefileInvalid) as caught:
        treefile_save(name="kinoite", content=treefile_content(**changes), published_ref=REF_STABLE)

    assert any(message in text for text in caught.value.errors[field]), caught.value.errors
    treefile.refresh_from_db()
    assert treefile.content == treefile_content()
    assert TreefileRevision.objects.count() == 1


def test_it_refuses_a_bad_published_ref_and_a_bad_schedule(stages) -> None:
    with pytest.raises(TreefileInvalid) as caught:
        treefile_save(name="new", content=treefile_content(), published_ref="stable ref", schedule="every night")

    assert set(caught.value.errors) == {"published_ref", "schedule"}
    assert "five fields" in caught.value.errors["schedule"][0]
    assert not Treefile.objects.exists()


def test_malformed_json_reports_line_and_column() -> None:
    with pytest.raises(TreefileInvalid) as caught:
        parse_treefile_json('{"ref": "a/b",\n "packages": ["git",]}')

    assert caught.value.errors["content"] == ["malformed JSON at line 2, column 21: Expecting value"]


def test_the_seed_treefile_and_arch_package_keys_are_valid() -> None:
    assert treefile_errors(treefile_content(**{"packages-x86_64": ["htop"], "include": "common.yaml"})) == {}


def test_each_save_that_changes_the_content_keeps_a_revision(treefile) -> None:
    treefile_save(
        name="kinoite", content=treefile_content(selinux=False), published_ref=REF_STABLE, comment="no SELinux"
    )
    treefile_save(
        name="kinoite", content=treefile_content(selinux=False), published_ref=REF_STABLE, schedule="0 2 * * *"
    )

    numbers = list(treefile.revisions.order_by("number").values_list("number", "comment"))
    assert numbers == [(1, ""), (2, "no SELinux")]
    treefile.refresh_from_db()
    assert treefile.schedule == "0 2 * * *"
