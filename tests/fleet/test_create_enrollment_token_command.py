from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from kinoite_portal.core.tokens import token_hash
from kinoite_portal.fleet.models import Department, EnrollmentToken


def test_it_prints_a_token_once_that_is_stored_hashed(db) -> None:
    Department.objects.create(name="Finance", slug="finance")
    out, err = StringIO(), StringIO()

    call_command("create_enrollment_token", "finance", "--uses", "5", stdout=out, stderr=err)

    raw = out.getvalue().strip()
    token = EnrollmentToken.objects.get()
    assert token.token_hash == token_hash(raw)
    assert token.max_uses == 5
    assert "shown only now" in err.getvalue()


def test_it_refuses_unknown_departments_and_bad_limits_and_creates_nothing(db) -> None:
    Department.objects.create(name="Finance", slug="finance")

    with pytest.raises(CommandError, match="No department 'hr' \\(known: finance\\)"):
        call_command("create_enrollment_token", "hr")
    with pytest.raises(CommandError, match="at least one use"):
        call_command("create_enrollment_token", "finance", "--uses", "0")
    with pytest.raises(CommandError, match="--days must be at least 1"):
        call_command("create_enrollment_token", "finance", "--days", "0")
    assert EnrollmentToken.objects.count() == 0
