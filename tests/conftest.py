"""Fixtures shared by every test: real Redis, real Celery workers, users per role, real ostree repos."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User
from django.test import Client

from kinoite_portal.celery import app as celery_app
from kinoite_portal.core import roles
from kinoite_portal.ostree import gpg
from tests import services

# The throwaway registry of the OCI tests (oci_registry), usable from every test folder.
pytest_plugins = ["tests.oci_registry"]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield the URL of a real Redis: the one REDIS_URL names (CI), else a throwaway redis-server."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with services.redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session", autouse=True)
def _broker(redis_url: str) -> None:
    """Point this process's Celery app at the test Redis, under a key prefix no other run shares."""
    prefix = services.new_key_prefix()
    options = {**django_settings.CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": prefix}
    django_settings.REDIS_URL = redis_url
    django_settings.CELERY_BROKER_URL = redis_url
    django_settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    celery_app.conf.broker_url = redis_url
    celery_app.conf.broker_transport_options = options


@pytest.fixture(autouse=True)
def _portal_dirs(settings: Any, tmp_path: Path) -> Iterator[None]:
    """Give every test its own repo root, lock, GnuPG, compose and buildah folders; stop the gpg-agents it started."""
    settings.PORTAL_REPO_ROOT = tmp_path / "ostree"
    settings.PORTAL_LOCK_DIR = tmp_path / "locks"
    settings.PORTAL_GNUPG_ROOT = tmp_path / "gnupg"
    settings.PORTAL_COMPOSE_WORKDIR = tmp_path / "compose"
    settings.PORTAL_COMPOSE_CONFIG_DIR = tmp_path / "compose-config"
    settings.PORTAL_SIGSTORE_ROOT = tmp_path / "sigstore"
    settings.PORTAL_REGISTRY_AUTH_FILE = tmp_path / "registry-auth.json"
    settings.PORTAL_BUILDAH_ROOT = tmp_path / "buildah"
    yield
    # gpg starts one agent per GnuPG home and leaves it running as a daemon after the test's folder is gone.
    for home in sorted((tmp_path / "gnupg").glob("*")):
        if home.is_dir():
            gpg.kill_agent(home)


@pytest.fixture(autouse=True)
def _fresh_ring_layout() -> None:
    """Forget the ring layout and rolling-out stages a check-in keeps for a few seconds: a test's rollback or flush
    sends no signals."""
    from kinoite_portal.rollouts.following import layout_forget
    from kinoite_portal.rollouts.triggers import rolling_out_forget

    layout_forget()
    rolling_out_forget()


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Start every test with an empty cache: a rolled-back test may leave rows whose ids the next test reuses."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def start_worker(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., services.Worker]]:
    """Return a function that starts real Celery workers on the test database; all are stopped afterwards."""
    workers: list[services.Worker] = []

    def start(**kwargs: Any) -> services.Worker:
        worker = services.start_worker(tmp_path, **kwargs)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def celery_worker(start_worker: Callable[..., services.Worker]) -> services.Worker:
    """Start one real Celery worker that consumes every queue."""
    return start_worker()


def make_user(username: str, *groups: str, **extra: Any) -> User:
    # A transactional test's flush empties the groups migration core.0002 created.
    roles.groups_ensure()
    user = User.objects.create_user(
        username=username, password="pw-" + username, email=f"{username}@example.com", **extra
    )
    for group in groups:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def release_engineer(db: None) -> User:
    return make_user("rita", roles.RELEASE_ENGINEERS, is_staff=True)


@pytest.fixture
def approver(db: None) -> User:
    return make_user("alice", roles.APPROVERS)


@pytest.fixture
def second_approver(db: None) -> User:
    return make_user("arne", roles.APPROVERS)


@pytest.fixture
def department_head(db: None) -> User:
    return make_user("dora", roles.DEPARTMENT_HEADS)


@pytest.fixture
def admin_user(db: None) -> User:
    return User.objects.create_superuser("root-admin", "admin@example.com", "pw-root-admin")


@pytest.fixture
def client_for() -> Callable[[User], Client]:
    """Return a function that gives a test client signed in as a user."""

    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture(scope="session")
def ostree_binary() -> str:
    path = shutil.which("ostree")
    if path is None:
        pytest.fail("ostree is not installed: run deploy/dev/install-system-packages.sh test")
    return path
