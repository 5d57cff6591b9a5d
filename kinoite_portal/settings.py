"""Settings for Kinoite Portal, read from environment variables.

A first run needs no variables at all: SQLite and repos live under ``var/``. Production sets
``PORTAL_PRODUCTION=1`` plus a secret key, allowed hosts and ``DATABASE_URL``; ``manage.py check --deploy``
is then clean. ``deploy/portal.env.example`` documents every variable.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from kinoite_portal.core.run_state import run_state_read

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """Return an environment variable, or ``NAME_FILE``'s contents for secrets kept in files."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    """Return a boolean environment variable (1/true/yes/on)."""
    value = env_str(name)
    if not value:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    """Return an integer environment variable."""
    value = env_str(name)
    return int(value) if value else default


def env_list(name: str, default: str = "") -> list[str]:
    """Return a comma-separated environment variable as a list."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


PRODUCTION = env_bool("PORTAL_PRODUCTION")
DEBUG = env_bool("DEBUG")
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))
# A `manage.py` typed in a second terminal finds the Redis, database and public URL of a running `make run` of the
# same checkout (kinoite_portal.core.run_state); the environment always wins, and production reads only the environment.
RUN_STATE = {} if PRODUCTION else run_state_read(VAR_DIR)


def env_or_running(name: str, default: str) -> str:
    """Return an environment variable, else what the running `make run` shares, else the default."""
    return env_str(name) or RUN_STATE.get(name) or default


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when PORTAL_PRODUCTION=1.")
    # A first run keeps a generated key under var/ so sessions survive restarts.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "kinoite_portal.core",
    "kinoite_portal.releases",
    "kinoite_portal.fleet",
    "kinoite_portal.rollouts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "kinoite_portal.core.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "kinoite_portal.core.middleware.HtmxMessagesMiddleware",
]

ROOT_URLCONF = "kinoite_portal.urls"
WSGI_APPLICATION = "kinoite_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kinoite_portal.core.context_processors.portal",
                "kinoite_portal.releases.context_processors.review_queue",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_or_running("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Workers and the web process share the file: wait for the writer instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["TEST"] = {"NAME": env_str("PORTAL_TEST_DB", str(VAR_DIR / f"test-{os.getpid()}.sqlite3"))}
elif env_str("PORTAL_TEST_DB"):
    DATABASES["default"]["TEST"] = {"NAME": env_str("PORTAL_TEST_DB")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))

# --- Redis and Celery -------------------------------------------------------------------------------------------
REDIS_URL = env_or_running("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL.replace("unix://", "redis+socket://", 1)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    # A task whose worker died unacknowledged is handed out again after this many seconds.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    # A broker that hangs (Redis frozen, packets dropped) must not hang a web request whose rows are committed:
    # every socket operation gives up after this many seconds, and a publish is tried twice (see below), so a
    # request learns within seconds that its task did not reach the queue (the re-queue task sends it later).
    "socket_timeout": env_int("CELERY_BROKER_SOCKET_TIMEOUT", 3),
    "socket_connect_timeout": env_int("CELERY_BROKER_SOCKET_TIMEOUT", 3),
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
if env_str("CELERY_KEY_PREFIX"):
    # Lets test runs share one Redis without seeing each other's queues.
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = env_str("CELERY_KEY_PREFIX")
CELERY_TASK_ALWAYS_EAGER = False

# --- Repos, composes, promotions ----------------------------------------------------------------------------------
PORTAL_REPO_ROOT = Path(env_str("PORTAL_REPO_ROOT", str(VAR_DIR / "ostree")))
PORTAL_LOCK_DIR = Path(env_str("PORTAL_LOCK_DIR", str(VAR_DIR / "locks")))
PORTAL_GNUPG_ROOT = Path(env_str("PORTAL_GNUPG_ROOT", str(VAR_DIR / "gnupg")))
PORTAL_COMPOSE_BACKEND = env_str("PORTAL_COMPOSE_BACKEND", "local")
PORTAL_COMPOSE_WORKDIR = Path(env_str("PORTAL_COMPOSE_WORKDIR", str(VAR_DIR / "compose")))
PORTAL_COMPOSE_TIMEOUT = env_int("PORTAL_COMPOSE_TIMEOUT", 3 * 3600)
# Containerfile builds: buildah's image storage of the worker (vfs driver), and how RUN steps are isolated
# ("" = buildah's default, oci; "chroot" where no OCI runtime works, e.g. inside an unprivileged container).
PORTAL_BUILDAH_ROOT = Path(env_str("PORTAL_BUILDAH_ROOT", str(VAR_DIR / "buildah")))
PORTAL_BUILDAH_ISOLATION = env_str("PORTAL_BUILDAH_ISOLATION", "")
# The yum .repo files (and any treefile `include` targets) rpm-ostree reads next to the treefile.
PORTAL_COMPOSE_CONFIG_DIR = Path(env_str("PORTAL_COMPOSE_CONFIG_DIR", str(VAR_DIR / "compose-config")))
PORTAL_COMMAND_TIMEOUT = env_int("PORTAL_COMMAND_TIMEOUT", 1800)
# OCI stages: the simple-signing signatures the worker writes, one folder per stage, served read-only at
# /sigstore/<stage>/ (the "lookaside" clients read); and the containers auth.json (0600, on the worker host only)
# holding the registries' credentials: the database never holds a registry password.
PORTAL_SIGSTORE_ROOT = Path(env_str("PORTAL_SIGSTORE_ROOT", str(VAR_DIR / "sigstore")))
PORTAL_REGISTRY_AUTH_FILE = Path(env_str("PORTAL_REGISTRY_AUTH_FILE", str(VAR_DIR / "registry-auth.json")))
# The portal serves /repo/<stage>/ and /static/ itself on a first run; production leaves both to Apache or nginx.
PORTAL_SERVE_FILES = env_bool("PORTAL_SERVE_FILES", not PRODUCTION)
# Where desktops and email readers reach the portal; run_portal derives it from --bind unless it is set.
PORTAL_PUBLIC_URL = env_or_running("PORTAL_PUBLIC_URL", "http://127.0.0.1:8000")
PORTAL_SILENT_AFTER_DAYS = env_int("PORTAL_SILENT_AFTER_DAYS", 3)
# A check-in queues a gate evaluation (at most one per PORTAL_GATE_DEBOUNCE_SECONDS); beat evaluates every 15 s anyway.
PORTAL_GATE_EVALUATE_ON_CHECKIN = env_bool("PORTAL_GATE_EVALUATE_ON_CHECKIN", True)
PORTAL_GATE_DEBOUNCE_SECONDS = env_int("PORTAL_GATE_DEBOUNCE_SECONDS", 2)
PORTAL_CHECKIN_HISTORY = env_int("PORTAL_CHECKIN_HISTORY", 50)
# How long the hourly adoption samples behind the rollout charts are kept.
PORTAL_ADOPTION_DAYS = env_int("PORTAL_ADOPTION_DAYS", 90)
PORTAL_CHECKIN_MAX_BYTES = env_int("PORTAL_CHECKIN_MAX_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = PORTAL_CHECKIN_MAX_BYTES
# The web server in front (deploy/): its TLS files and the user it reads repos as; checked at start-up
# (kinoite_portal.core.checks) and used by `manage.py render_webserver_config`.
PORTAL_TLS_CERT = env_str("PORTAL_TLS_CERT")
PORTAL_TLS_KEY = env_str("PORTAL_TLS_KEY")
PORTAL_WEBSERVER_USER = env_str("PORTAL_WEBSERVER_USER")

# Layers run one way (ostree <- core <- releases <- fleet <- rollouts): where a lower app needs what a higher one
# knows, it calls the function one of these settings names (read with import_string), and never imports it.
# Commits desktops boot, stage or keep for rollback, which retention must not prune: () -> Iterable[str].
PORTAL_BOOTED_CHECKSUMS_PROVIDER = "kinoite_portal.fleet.selectors.host_deployed_checksums"
# What the fleet says about a commit, shown on the approval page: (checksum=) -> object for the template, or None.
PORTAL_PROMOTION_EVIDENCE_PROVIDER = "kinoite_portal.fleet.selectors.pilot_evidence"
# Sets the departments a directory user heads from the directory's groups:
# (user=, wanted=set of slugs, managed=set of slugs) -> (added, removed, missing) lists of slugs.
PORTAL_DEPARTMENT_HEADS_SYNC = "kinoite_portal.fleet.services.departments.department_heads_sync"
# What the rings add to the fleet's rollout page: each (request) -> fleet.sections.RolloutSection or None.
PORTAL_ROLLOUT_SECTIONS = ["kinoite_portal.rollouts.views.pages.rollout_section"]
# Which ref a promotion moves and which refs it binds (the rollout rings): (stage=, ref=, kind=) -> PublishPlan.
PORTAL_PUBLISH_PLAN_PROVIDER = "kinoite_portal.rollouts.publishing.ring_publish_plan"
# What the check-in answer adds (the ref the desktop's ring follows): (host=) -> dict.
PORTAL_CHECKIN_ANSWER_PROVIDER = "kinoite_portal.rollouts.following.checkin_answer"

# Sign-in throttling (kinoite_portal.core.signin): failed attempts per user name and per address within the window.
PORTAL_SIGNIN_MAX_FAILURES_PER_USER = env_int("PORTAL_SIGNIN_MAX_FAILURES_PER_USER", 5)
PORTAL_SIGNIN_MAX_FAILURES_PER_ADDRESS = env_int("PORTAL_SIGNIN_MAX_FAILURES_PER_ADDRESS", 20)
PORTAL_SIGNIN_WINDOW_MINUTES = env_int("PORTAL_SIGNIN_WINDOW_MINUTES", 15)
# Peers whose X-Forwarded-For entry names the client: the web server in front ("" is gunicorn's unix socket).
PORTAL_TRUSTED_PROXIES = {"", *env_str("PORTAL_TRUSTED_PROXIES", "127.0.0.1,::1").split(",")}

# --- Email ------------------------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "kinoite-portal@localhost")

# --- Security -----------------------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads no cookie (the token travels in hx-headers), but admin JS may.
X_FRAME_OPTIONS = "DENY"
# Every page's Content-Security-Policy (kinoite_portal.core.middleware): scripts, styles, images and requests
# from the portal only; no inline script or style, no plugins, no framing, forms post back to the portal.
PORTAL_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when PORTAL_PRODUCTION=1.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Optional directory sign-in (LDAP / Active Directory); a no-op unless AUTH_LDAP_SERVER_URI is set.
from kinoite_portal.ldap_settings import *  # noqa: E402, F403
