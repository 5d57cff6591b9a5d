"""Fixtures of the fleet tests: departments, enrolled hosts, prod commits in the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from kinoite_portal.fleet.models import Department, Host
from kinoite_portal.fleet.services.enrollment import enrollment_token_create, host_enroll
from kinoite_portal.releases.models import Commit, Stage
from kinoite_portal.releases.services.commits import ref_move
from tests.fleet.helpers import PROD_REF, fake_checksum, machine_id


@pytest.fixture
def finance(db: None, department_head: Any) -> Department:
    """Finance, headed by the department_head fixture user."""
    department = Department.objects.create(name="Finance", slug="finance")
    department.heads.add(department_head)
    return department


@pytest.fixture
def sales(db: None) -> Department:
    return Department.objects.create(name="Sales", slug="sales")


@pytest.fixture
def enroll(db: None) -> Callable[..., tuple[Host, str]]:
    """Return a function that enrolls a machine in a department and returns (host, raw host token)."""

    def make(department: Department, name: str) -> tuple[Host, str]:
        token = enrollment_token_create(department=department, name=f"for {name}")
        enrolled = host_enroll(raw_token=token.raw, hostname=name, machine_id=machine_id(name))
        return enrolled.host, enrolled.raw

    return make


@pytest.fixture
def prod_history(db: None) -> dict[str, Commit]:
    """Return three commits that prod's stable ref pointed at, oldest first; ``head`` is the current one."""
    dev = Stage.objects.create(name="dev", order=0, repo_path="dev")
    prod = Stage.objects.create(name="prod", order=1, repo_path="prod")
    commits: dict[str, Commit] = {}
    start = timezone.now() - timedelta(days=30)
    for index, (label, version) in enumerate(
        [("oldest", "41.20261101.0"), ("older", "41.20261115.0"), ("head", "41.20261125.0")]
    ):
        commit = Commit.objects.create(
            checksum=fake_checksum(label), version=version, timestamp=start + timedelta(days=10 * index)
        )
        ref_move(
            stage=prod, ref_name=PROD_REF, commit=commit, source="import", moved_at=start + timedelta(days=10 * index)
        )
        commits[label] = commit
    commits["dev_only"] = Commit.objects.create(
        checksum=fake_checksum("dev-only"), version="41.20261126.0", timestamp=timezone.now()
    )
    ref_move(stage=dev, ref_name="fedora/x86_64/kinoite/dev", commit=commits["dev_only"], source="import")
    return commits
