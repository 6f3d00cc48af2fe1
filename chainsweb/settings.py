"""Django settings for chainsweb.

One module, read from the environment, healthchecks-style. Local development and tests get safe
defaults; anything that matters in production (SECRET_KEY, DATABASE_URL, the broker) comes from env
vars or from files named by `NAME_FILE` (Docker/Kubernetes secrets).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from kombu.entity import Queue

from chainsweb.logs import logging_config
from provenance.config import ENVIRONMENT as PROVENANCE_ENVIRONMENT
from provenance.config import (
    RETENTION_ENVIRONMENT,
    UPLOAD_BUILDER_ID,
    ConfigError,
    NamespaceConfig,
    retention_days_read,
)

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean env var; unset or empty means `default`."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    """Read an integer env var; unset or empty means `default`."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def env_secret(name: str, default: str = "") -> str:
    """Read a secret from `NAME`, or from the file that `NAME_FILE` points at.

    The file form keeps secrets out of the process environment (and out of `ps e` and crash dumps).
    Setting both is ambiguous, so it is an error rather than a silent precedence rule.
    """
    value = os.environ.get(name, "")
    path = os.environ.get(f"{name}_FILE", "")
    if value and path:
        raise ImproperlyConfigured(f"Set either {name} or {name}_FILE, not both")
    if path:
        try:
            # Secret files written by editors or `echo` usually end with a newline.
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ImproperlyConfigured(f"Cannot read {name}_FILE={path!r}: {e}") from e
    return value or default


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated env var into a list, dropping blanks."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL (what a CSP source names)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# Seconds a database connection is kept for the next request or task (Django's CONN_MAX_AGE;
# health-checked before reuse). Not Django's 0: a new Postgres session per request and per task
# cost more CPU than the ingest itself (bench/README.md, issue 16).
DB_CONN_MAX_AGE_DEFAULT = 60


def database_from_url(url: str) -> dict[str, Any]:
    """Turn `postgres://user:password@host:port/name?opt=val` into a Django DATABASES entry.

    Query parameters become connection OPTIONS (sslmode, connect_timeout, ...), except `host`, which
    libpq uses for a Unix socket directory (`postgresql://u@/db?host=/run/postgresql`).
    """
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgres:// or postgresql://, got {parts.scheme!r}://"
        )
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    host = options.pop("host", None) or unquote(parts.hostname or "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port) if parts.port else "",
        "OPTIONS": options,
        "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", DB_CONN_MAX_AGE_DEFAULT),
        "CONN_HEALTH_CHECKS": True,
    }


def embedded_database() -> dict[str, Any]:
    """The DATABASES entry for the embedded Postgres in BASE_DIR/.pgdata (pgserver).

    Nothing starts here: the `chainsweb.embedded_db` backend starts the server the first time a
    connection is opened, so commands that never use the database (`compute_provenance`) start no
    postgres, and a deployment with DATABASE_URL never imports pgserver.
    """
    return {
        "ENGINE": "chainsweb.embedded_db",
        "NAME": "postgres",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": "",  # the socket directory, filled in by the backend once the server runs
        "PORT": "",
        "OPTIONS": {},
        "PGDATA": BASE_DIR / ".pgdata",
        "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", DB_CONN_MAX_AGE_DEFAULT),
        "CONN_HEALTH_CHECKS": True,
    }


DEBUG = env_bool("DEBUG", True)

# A fixed, clearly fake key is fine for local development; production must bring its own.
_DEV_SECRET_KEY = "django-insecure-chainsweb-dev-only-never-use-in-production"
SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) is required when DEBUG is off")
    SECRET_KEY = _DEV_SECRET_KEY


ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    # Sign-in throttling (docs/security.md): failed password sign-ins, per account and address.
    "axes",
    "provenance",
]

MIDDLEWARE = [
    # Outermost: every log line of a request carries its id, and every request gets one access line.
    "chainsweb.logs.RequestIdMiddleware",
    # First, so its headers land on every response, static files and error pages included.
    "provenance.security.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Probes and scrapes address a pod by IP: answered before the Host check (docs/operations.md).
    "provenance.ops.OpsEndpointsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "provenance.sso.proxy.TrustedProxyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: answers a locked-out sign-in (AXES_LOCKOUT_CALLABLE) instead of the view.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chainsweb.urls"
WSGI_APPLICATION = "chainsweb.wsgi.application"

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
                "provenance.sso.views.sign_in_options",
            ],
        },
    },
]

_database_url = os.environ.get("DATABASE_URL", "").strip()
DATABASES = {"default": database_from_url(_database_url) if _database_url else embedded_database()}
if not _database_url:
    from chainsweb.embedded_db.shutdown import exit_on_sigterm

    exit_on_sigterm()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed files need `collectstatic`; plain storage keeps dev and tests simple.
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}

# --- API (docs/api.md) ---------------------------------------------------------------------------
# Every API view authenticates by bearer token or by the browser session (CSRF enforced for
# session writes by DRF), renders JSON only, and is rate limited per caller.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The bearer scheme first: its WWW-Authenticate makes an anonymous request a 401.
        "provenance.sso.throttle.ThrottledBearerAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["provenance.auth.HasRole"],
    "DEFAULT_THROTTLE_CLASSES": ["provenance.auth.ApiRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "provenance.api.views.error_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Requests per caller (token, else signed-in user, else address) and period: N/s, N/min, N/h,
# N/day. Empty turns the limit off. Counted in CACHES["default"], so several web processes share
# the count only with a shared cache (CACHE_URL=redis://...).
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600/min").strip() or None
# Bad bearer tokens: this many invalid, expired or revoked tokens from one address within the
# window (seconds) and every token from it gets 429 until the window ends (0: no limit).
API_BAD_TOKEN_LIMIT = env_int("API_BAD_TOKEN_LIMIT", 20)
API_BAD_TOKEN_WINDOW = env_int("API_BAD_TOKEN_WINDOW", 300)
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 50)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 200)
# `verified=` on the attestation list re-checks one signature per candidate row.
API_VERIFIED_FILTER_MAX = env_int("API_VERIFIED_FILTER_MAX", 20000)
# Rows an export (CSV, JSON Lines) reads from its server-side cursor at a time.
EXPORT_CHUNK_ROWS = env_int("EXPORT_CHUNK_ROWS", 500)

_cache_url = os.environ.get("CACHE_URL", "").strip()
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}
        if _cache_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

SPECTACULAR_SETTINGS = {
    "TITLE": "chainsweb API",
    "DESCRIPTION": (
        "Ingest Tekton runs; search and download signed SLSA provenance (DSSE envelopes); ask "
        "the deployment gate whether a digest may be deployed. Authenticate with "
        "`Authorization: Bearer <token>` (from `manage.py create_token`) or a signed-in "
        "browser session. See docs/api.md."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema describes the API, not data: readable without signing in, so the docs UI works.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI's files come from the drf-spectacular-sidecar package (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Security headers (provenance/security.py) --------------------------------------------------
# HSTS goes out only on HTTPS requests (Django's SecurityMiddleware checks request.is_secure()).
# Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO so that the
# proxy's `X-Forwarded-Proto: https` counts; only do that when the proxy always sets the header.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
_proxy_ssl_header = os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip()
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https") if _proxy_ssl_header else None
# Redirect plain HTTP to HTTPS here (off by default: usually the ingress does it). The liveness
# probe stays reachable over HTTP.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
# No 'unsafe-inline' anywhere: pages load their scripts and styles from /static/. Signing out of
# single sign-on posts a form whose answer redirects to the identity provider, so its origin is
# a form-action too (browsers apply form-action to the redirects that follow a submission).
_OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").strip().rstrip("/")
_FORM_ACTION = "'self'" + (f" {origin_of(_OIDC_ISSUER)}" if _OIDC_ISSUER else "")
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    f"base-uri 'none'; form-action {_FORM_ACTION}",
)

# Celery. With no broker configured, tasks run in-process (eager) so a single-process demo works;
# real deployments and the worker tests set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Celery's Django fix-up closes the database connection around every task unless this is set;
# chainsweb.celery_signals applies DB_CONN_MAX_AGE around each task instead (Celery still closes
# them after twice this many tasks).
CELERY_DB_REUSE_MAX = 10_000
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Live ingests queue their computes on the default queue; bulk work (import_records, namespace
# recomputes, requeue_pending) on BACKFILL_QUEUE, so a 20,000-run import never sits in front of
# a live run. A worker started without -Q consumes both, and kombu's Redis transport serves
# them in turn (round robin): neither starves.
CELERY_TASK_DEFAULT_QUEUE = "celery"
BACKFILL_QUEUE = "backfill"
# Publishing to OCI registries (docs/oci.md) has a queue of its own: a registry that is slow or
# down delays only publications, never signing. The one task that talks to registries is routed
# there; run `celery -A chainsweb worker -Q publish` to give it its own processes.
PUBLISH_QUEUE = "publish"
CELERY_TASK_QUEUES = (
    Queue(CELERY_TASK_DEFAULT_QUEUE),  # type: ignore[no-untyped-call]
    Queue(BACKFILL_QUEUE),  # type: ignore[no-untyped-call]
    Queue(PUBLISH_QUEUE),  # type: ignore[no-untyped-call]
)
CELERY_TASK_ROUTES = {"provenance.tasks.publication_publish": {"queue": PUBLISH_QUEUE}}
# A publication the registry refused for now (down, 5xx, 429, timeout) is tried again with
# exponential backoff (OCI_PUBLISH_BACKOFF seconds doubling, capped at OCI_PUBLISH_BACKOFF_MAX,
# with jitter), OCI_PUBLISH_RETRIES times; then it stays failed with its reason, for
# `manage.py publish_attestations --failed`. OCI_TIMEOUT: connect and read timeout per request.
OCI_PUBLISH_RETRIES = env_int("OCI_PUBLISH_RETRIES", 8)
OCI_PUBLISH_BACKOFF = env_int("OCI_PUBLISH_BACKOFF", 10)
OCI_PUBLISH_BACKOFF_MAX = env_int("OCI_PUBLISH_BACKOFF_MAX", 1800)
OCI_TIMEOUT = float(env_int("OCI_TIMEOUT", 15))
# Per-namespace fairness: a namespace with more than this many runs waiting to be computed queues
# its further computes on backfill, so one tenant's flood cannot hold up another's live runs.
LIVE_QUEUE_SHARE = env_int("LIVE_QUEUE_SHARE", 20)
# Runs per queued message when many are queued at once (a large POST, an import, a recompute).
COMPUTE_BATCH_SIZE = env_int("COMPUTE_BATCH_SIZE", 50)
# A run whose compute started this many times without finishing (its worker was killed: out of
# memory, SIGKILL) is failed with a reason instead of being delivered again.
COMPUTE_MAX_ATTEMPTS = env_int("COMPUTE_MAX_ATTEMPTS", 3)

# Signing keys (file-key signer) and ingest limits.
KEYS_DIR = Path(os.environ.get("KEYS_DIR", BASE_DIR / ".keys"))
# The trust bundle: one JSON file per public key the verifier trusts, and for what
# (provenance.core.trust, docs/security.md). Empty: a folder beside KEYS_DIR ("<KEYS_DIR>-trusted",
# so tests and the embedded setup that move KEYS_DIR move it too). In Kubernetes it is mounted
# read-only into every pod; only where keys are created is it written.
TRUSTED_KEYS_DIR = os.environ.get("TRUSTED_KEYS_DIR", "")
INGEST_MAX_BYTES = env_int("INGEST_MAX_BYTES", 10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = INGEST_MAX_BYTES
# Bounded work (docs/security.md, "Bounded work"; docs/operations.md, "Limits"). Objects in one
# request or import file; TaskRuns of one PipelineRun (checked at ingest on childReferences and
# again when computing); bytes of one statement and of all statements of one run (over either,
# the run is recorded as failed "too large").
INGEST_MAX_OBJECTS = env_int("INGEST_MAX_OBJECTS", 100_000)
PROVENANCE_MAX_TASKS = env_int("PROVENANCE_MAX_TASKS", 1_000)
PROVENANCE_MAX_STATEMENT_BYTES = env_int("PROVENANCE_MAX_STATEMENT_BYTES", 16 * 1024 * 1024)
PROVENANCE_MAX_RUN_STATEMENT_BYTES = env_int("PROVENANCE_MAX_RUN_STATEMENT_BYTES", 64 * 1024 * 1024)

# --- Backend (docs/backend.md) ------------------------------------------------------------------
# A message a worker took but never acknowledged (the worker was killed) goes back to the queue
# after this many seconds. It must be longer than the longest task (CELERY_TASK_TIME_LIMIT).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": env_int("CELERY_UNACKED_RESTORE_THROTTLE", 10),
}
# Settings of namespaces nobody configured (PATCH /api/v1/namespaces/{ns}/settings overrides).
PROVENANCE_DEFAULTS = {
    "format": os.environ.get("PROVENANCE_FORMAT", "slsa/v2alpha4"),
    "deep_inspection": env_bool("PROVENANCE_DEEP_INSPECTION", False),
    "scope": os.environ.get("PROVENANCE_SCOPE", "per-run"),
    "emit": os.environ.get("PROVENANCE_EMIT", "on-completion"),
    "builder_id": os.environ.get("PROVENANCE_BUILDER_ID", "https://tekton.dev/chains/v2"),
    "build_type": os.environ.get("PROVENANCE_BUILD_TYPE", "https://tekton.dev/chains/v2/slsa"),
    "upload_builder_id": os.environ.get("PROVENANCE_UPLOAD_BUILDER_ID", UPLOAD_BUILDER_ID),
    "uploads_use_builder_id": env_bool("PROVENANCE_UPLOADS_USE_BUILDER_ID", False),
    # Empty: standalone TaskRuns use "format" too.
    "taskrun_format": os.environ.get("PROVENANCE_TASKRUN_FORMAT", ""),
}
# Checked now, so that a bad value stops every process (web, worker, command) at start-up with
# the variable's name, rather than failing each run's compute later (provenance.config).
try:
    NamespaceConfig.from_values(PROVENANCE_DEFAULTS)
except ConfigError as exc:
    raise ImproperlyConfigured(f"{PROVENANCE_ENVIRONMENT[exc.field]}: {exc}") from None
# Days a completed run's raw record is kept in namespaces without a retention of their own;
# unset or 0: for ever (docs/operations.md, "Retention"). Checked now, like the above.
try:
    PROVENANCE_RETENTION_DAYS = retention_days_read(os.environ.get(RETENTION_ENVIRONMENT, ""))
except ConfigError as exc:
    raise ImproperlyConfigured(f"{RETENTION_ENVIRONMENT}: {exc}") from None
# Namespaces without a key of their own sign with the deployment-wide default key in KEYS_DIR,
# created on first use unless this is off (then such runs fail visibly until a key exists).
SIGNING_DEFAULT_KEY_AUTOCREATE = env_bool("SIGNING_DEFAULT_KEY_AUTOCREATE", True)
SIGNING_DEFAULT_ALGORITHM = os.environ.get("SIGNING_DEFAULT_ALGORITHM", "ecdsa-p256")
# watch_records: server-side watch timeout, client read timeout and the error back-off ceiling.
WATCH_TIMEOUT_SECONDS = env_int("WATCH_TIMEOUT_SECONDS", 300)
WATCH_READ_TIMEOUT = env_int("WATCH_READ_TIMEOUT", 330)
WATCH_BACKOFF_MAX = env_int("WATCH_BACKOFF_MAX", 60)
# The cluster name watch_records records as the source of the runs it stores (--cluster-name
# overrides it; empty: the kubeconfig context's name, or "in-cluster").
WATCH_CLUSTER_NAME = os.environ.get("WATCH_CLUSTER_NAME", "").strip()

# --- Operations (docs/operations.md) ------------------------------------------------------------
# Single sign-on with OpenID Connect: authorization code flow with PKCE (mozilla-django-oidc,
# subclassed in provenance/sso/oidc.py). Setting OIDC_ISSUER turns it on; the endpoints come from
# the issuer's discovery document.
OIDC_ISSUER = _OIDC_ISSUER
OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "").strip()
OIDC_CLIENT_SECRET = env_secret("OIDC_CLIENT_SECRET")
OIDC_SCOPES = os.environ.get("OIDC_SCOPES", "openid profile email groups").strip()
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups").strip()
OIDC_USERNAME_CLAIM = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username").strip()
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "single sign-on").strip()
OIDC_SIGN_ALGORITHM = os.environ.get("OIDC_SIGN_ALGORITHM", "RS256").strip()
OIDC_CLOCK_SKEW_SECONDS = env_int("OIDC_CLOCK_SKEW_SECONDS", 60)
OIDC_TIMEOUT_SECONDS = env_int("OIDC_TIMEOUT_SECONDS", 10)
if OIDC_ISSUER and not (OIDC_CLIENT_ID and OIDC_CLIENT_SECRET):
    raise ImproperlyConfigured("OIDC_ISSUER needs OIDC_CLIENT_ID and OIDC_CLIENT_SECRET(_FILE)")
# What mozilla-django-oidc reads under its own names.
OIDC_RP_CLIENT_ID = OIDC_CLIENT_ID
OIDC_RP_CLIENT_SECRET = OIDC_CLIENT_SECRET
OIDC_RP_SCOPES = OIDC_SCOPES
OIDC_RP_SIGN_ALGO = OIDC_SIGN_ALGORITHM
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_VERIFY_SSL = env_bool("OIDC_VERIFY_TLS", True)
OIDC_TIMEOUT = OIDC_TIMEOUT_SECONDS
OIDC_AUTHENTICATION_CALLBACK_URL = "sso:callback"
# A single sign-on session ends after this long: the next sign-in reads the groups again.
SSO_SESSION_SECONDS = env_int("SSO_SESSION_SECONDS", 8 * 3600)
# People in these identity-provider groups are staff (see every namespace, read /metrics).
SSO_STAFF_GROUPS = env_list("SSO_STAFF_GROUPS")
# Trusted reverse proxy (oauth2-proxy in front): its identity headers count only from these
# addresses (CIDRs); from anyone else they are ignored and logged. Empty: proxy mode off.
AUTH_PROXY_TRUSTED_NETWORKS = env_list("AUTH_PROXY_TRUSTED_NETWORKS")
AUTH_PROXY_USER_HEADER = os.environ.get("AUTH_PROXY_USER_HEADER", "X-Forwarded-User").strip()
AUTH_PROXY_GROUPS_HEADER = os.environ.get("AUTH_PROXY_GROUPS_HEADER", "X-Forwarded-Groups").strip()
AUTH_PROXY_SIGN_OUT_URL = os.environ.get("AUTH_PROXY_SIGN_OUT_URL", "").strip()
# Local Django passwords: on (everyone), staff (break-glass administrators only) or off.
LOCAL_LOGIN = os.environ.get(
    "LOCAL_LOGIN", "staff" if OIDC_ISSUER or AUTH_PROXY_TRUSTED_NETWORKS else "on"
).strip()
if LOCAL_LOGIN not in {"on", "staff", "off"}:
    raise ImproperlyConfigured(f"LOCAL_LOGIN must be on, staff or off, got {LOCAL_LOGIN!r}")
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out account or address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "provenance.sso.local.LocalPasswordBackend",
    *(["provenance.sso.oidc.OidcBackend"] if OIDC_ISSUER else []),
]
# Sign-in throttling (django-axes): SIGN_IN_FAILURE_LIMIT wrong passwords for one account, or
# from one address, lock that account or address out for SIGN_IN_LOCKOUT_MINUTES (the dashboard
# and the admin site alike); a success resets the count. Unlock: manage.py axes_reset_username
# NAME, axes_reset_ip ADDRESS or axes_reset, or delete the access attempt in the admin site.
AXES_FAILURE_LIMIT = env_int("SIGN_IN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGN_IN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "provenance.sso.throttle.client_address"
AXES_LOCKOUT_CALLABLE = "provenance.sso.throttle.sign_in_locked_out"
AXES_WHITELIST_CALLABLE = "provenance.sso.throttle.sign_in_exempt"
AXES_VERBOSE = False
LOGIN_URL = "provenance:login"
LOGIN_REDIRECT_URL = "provenance:overview"
LOGIN_REDIRECT_URL_FAILURE = "provenance:login"

# Prometheus metrics at /metrics (provenance/metrics.py): staff, and these addresses (CIDRs).
# Several processes (gunicorn workers, Celery's pool) add up through PROMETHEUS_MULTIPROC_DIR,
# which prometheus_client reads from the environment.
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
# The worker's and the watcher's own HTTP port for /metrics, /healthz and /readyz (unset: none).
OPS_HTTP_PORT = env_int("OPS_HTTP_PORT", 0)

# Logs: plain text, or LOG_FORMAT=json for one JSON object per line (chainsweb/logs.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = logging_config(LOG_FORMAT, os.environ.get("LOG_LEVEL", "INFO"))
LOGGING_CONFIG = "chainsweb.logs.configure"
