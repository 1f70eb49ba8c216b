"""Junction platform settings, read from the environment through typed helpers (junction.env).

Defaults give the embedded demo: SQLite files under var/ (one for the control plane, one per
region) and Celery tasks run in-process. Production sets DATABASE_URL, JUNCTION_REGIONS and
REDIS_URL, and JUNCTION_PRODUCTION=1, which refuses to start without a real secret key.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from junction.analytics.schedule import beat_schedule
from junction.env import env_bool, env_int, env_regions, env_str, secret_key_weakness
from junction.fleet.schedule import fleet_beat_schedule
from junction.residency.planes import region_alias

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(env_str("JUNCTION_VAR_DIR", str(BASE_DIR / "var")))

PRODUCTION = env_bool("JUNCTION_PRODUCTION", False)
DEBUG = env_bool("JUNCTION_DEBUG", not PRODUCTION)
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or env_str("SECRET_KEY") or ""
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "JUNCTION_PRODUCTION=1 but no DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) is set"
        )
    SECRET_KEY = "junction-development-only-not-secret"
if PRODUCTION and (weakness := secret_key_weakness(SECRET_KEY)):
    raise ImproperlyConfigured(
        f"JUNCTION_PRODUCTION=1 refuses DJANGO_SECRET_KEY: {weakness}; "
        "generate one with `python -c 'import secrets; "
        "print(secrets.token_urlsafe(50))'`"
    )
ALLOWED_HOSTS = (env_str("ALLOWED_HOSTS", "" if PRODUCTION else "*") or "").split(",")

# --- HTTPS: production is served only over TLS, terminated by a reverse proxy ----------------
# The proxy sets X-Forwarded-Proto; Django trusts it only when told it sits behind one (a
# client reaching gunicorn directly could otherwise claim https).
if env_bool("JUNCTION_BEHIND_PROXY", PRODUCTION):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("JUNCTION_SSL_REDIRECT", PRODUCTION)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PRODUCTION
SECURE_HSTS_SECONDS = env_int("JUNCTION_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = env_bool("JUNCTION_HSTS_PRELOAD", PRODUCTION)
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Databases: the control plane is `default`; each region has its own alias. -------------
_sqlite = f"sqlite:///{VAR_DIR}"
DATABASE_URL = env_str("DATABASE_URL", f"{_sqlite}/control.sqlite3")
_all_regions = env_regions(
    "JUNCTION_REGIONS",
    f"eu-west={_sqlite}/region-eu-west.sqlite3,us-east={_sqlite}/region-us-east.sqlite3",
)

# A node pinned to one region has no connection settings for any other region, so no code path
# can reach another region's data even by mistake.
JUNCTION_REGION = env_str("JUNCTION_REGION")
if JUNCTION_REGION is not None and JUNCTION_REGION not in _all_regions:
    raise ImproperlyConfigured(
        f"JUNCTION_REGION={JUNCTION_REGION!r} has no database in JUNCTION_REGIONS "
        f"(configured: {', '.join(_all_regions)})"
    )
JUNCTION_ALL_REGIONS: tuple[str, ...] = tuple(_all_regions)
SERVED_REGIONS: tuple[str, ...] = (JUNCTION_REGION,) if JUNCTION_REGION else tuple(_all_regions)


def _database(url: str) -> dj_database_url.DBConfig:
    config = dj_database_url.parse(url, conn_max_age=env_int("JUNCTION_CONN_MAX_AGE", 60))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # IMMEDIATE transactions and a busy timeout let concurrent ingest requests queue for
        # the write lock instead of failing with "database is locked".
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["CONN_MAX_AGE"] = 0
    return config


DATABASES = {"default": _database(DATABASE_URL)}
for _code in SERVED_REGIONS:
    DATABASES[region_alias(_code)] = _database(_all_regions[_code])
DATABASE_ROUTERS = ["junction.residency.router.ResidencyRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, cache and the replay-nonce store. Absent: in-process. ------------
REDIS_URL = env_str("REDIS_URL")
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # A database cache in the control plane, not a per-process memory cache: replay nonces
    # and ingest locks must be shared by every web worker.
    # Django's default of 300 entries would cull live replay claims with a few dozen devices.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "junction_cache",
            "OPTIONS": {"MAX_ENTRIES": 1_000_000},
        }
    }
# API request counts: shared by every worker in production (Redis); in the embedded default
# one process serves, and counting in memory keeps two cache queries off every API call.
CACHES["throttle"] = (
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}
)

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("JUNCTION_TASKS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
# Longest task (a year's rollup recompute) must finish before Redis redelivers it.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("JUNCTION_TASK_TIMEOUT", 3600) * 2}
CELERY_TASK_TIME_LIMIT = env_int("JUNCTION_TASK_TIMEOUT", 3600)
CELERY_TASK_DEFAULT_QUEUE = "control"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Beat enqueues every analytics job once per served region, each to that region's queue.
CELERY_BEAT_SCHEDULE = beat_schedule(SERVED_REGIONS) | fleet_beat_schedule(SERVED_REGIONS)

# --- Applications ----------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "junction.residency",
    "junction.sites",
    "junction.traffic",
    "junction.ingest",
    "junction.analytics",
    "junction.accounts",
    "junction.opendata",
    "junction.fleet",
    "junction.api",
    "junction.dashboard",
    "junction.demo",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # ETag on every GET answer, and 304 Not Modified when If-None-Match still matches it.
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Around the views and the residency answers: audits every API token call where it read.
    "junction.accounts.tokens.TokenUseAuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "junction.middleware.QueryStringMiddleware",
    "junction.residency.middleware.ResidencyMiddleware",
    # Last, so it sees the login failures every view above produced (axes' own rule).
    "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins: after AXES_FAILURE_LIMIT failures a user name, and separately an address, is
# locked out for the cool-off and answered 429 with Retry-After (accounts.lockout).
AXES_FAILURE_LIMIT = env_int("JUNCTION_LOGIN_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("JUNCTION_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "junction.accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = env_int("JUNCTION_PROXY_COUNT", 1 if PRODUCTION else 0)

# Everything the pages load comes from this origin: no inline script or style, no CDN.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}
# Map tiles under the region map, only when an operator names a tile server (an XYZ URL with
# {z}, {x} and {y}, e.g. their own or a provider's they may use); without one the map is a plain
# outline and no page ever loads anything from outside. The attribution their licence asks for
# is shown under the map.
MAP_TILE_URL = env_str("JUNCTION_MAP_TILE_URL", "")
MAP_TILE_ATTRIBUTION = env_str("JUNCTION_MAP_TILE_ATTRIBUTION", "")
ROOT_URLCONF = "junction.urls"
WSGI_APPLICATION = "junction.wsgi.application"
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
            ]
        },
    }
]
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise looks there even before collectstatic
WHITENOISE_USE_FINDERS = not PRODUCTION  # the demo serves the apps' files without collectstatic
# Served by WhiteNoise from the web process (no CDN); in production from `collectstatic`'s
# hashed, compressed copies, so a new release never meets a browser's stale cache.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_TZ = True

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "junction.api.openapi.ApiSchema",
    # JSON, the browsable API, and ?format=csv on every answer (junction.api.formats).
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
        "junction.api.formats.TableRenderer",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "junction.api.formats.FormatNegotiation",
    # Bearer first: its challenge is the one a 401 carries (integrators' tokens, DESIGN.md
    # section 9); staff keep their session (the browsable API) and Basic.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "junction.accounts.tokens.BearerAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Per token, per user (all their tokens and sessions together) and per address before
    # login, counted in the shared cache (Redis in production), answered 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": [
        "junction.accounts.throttling.TokenRateThrottle",
        "junction.accounts.throttling.StaffRateThrottle",
        "junction.accounts.throttling.AddressRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "token": env_str("JUNCTION_API_RATE_TOKEN", "300/minute"),
        "user": env_str("JUNCTION_API_RATE_USER", "600/minute"),
        "anon": env_str("JUNCTION_API_RATE_ANON", "60/minute"),
    },
    # The client address of the per-address limits (and of the refused-token and ingest
    # limits): behind the proxy, its X-Forwarded-For (the proxy count of the login lockout).
    "NUM_PROXIES": AXES_IPWARE_PROXY_COUNT,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Junction API",
    "VERSION": "1.0.0",
    # Swagger UI and Redoc from this origin's static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The default enum hook, then the ingest and fleet endpoints, which are plain Django views.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "junction.ingest.openapi.ingest_schema_add",
        "junction.fleet.openapi.fleet_schema_add",
    ],
}

# Refused API tokens per address before the API answers 429 with Retry-After (accounts.tokens).
JUNCTION_API_BAD_TOKENS_ADDRESS = env_str("JUNCTION_API_BAD_TOKENS_ADDRESS", "20/minute")

# --- Ingest ----------------------------------------------------------------------------------
JUNCTION_INGEST_MAX_BYTES = env_int("JUNCTION_INGEST_MAX_BYTES", 1024 * 1024)
JUNCTION_INGEST_MAX_SKEW_SECONDS = 300
# Failed signatures (bad HMAC, unknown device) allowed per device id and per address before
# ingest answers 429 with Retry-After; the edge uplink waits that long and keeps its batches.
JUNCTION_INGEST_BAD_SIGNATURES_DEVICE = env_str(
    "JUNCTION_INGEST_BAD_SIGNATURES_DEVICE", "10/minute"
)
JUNCTION_INGEST_BAD_SIGNATURES_ADDRESS = env_str(
    "JUNCTION_INGEST_BAD_SIGNATURES_ADDRESS", "30/minute"
)
# --- Fleet updates (DESIGN.md section 10): each region's TUF repository -------------------------
# Offline keys (root, targets) exist only where operators sign; online keys (snapshot,
# timestamp) where the Celery worker refreshes them. The web process reads neither.
JUNCTION_FLEET_OFFLINE_KEYS = Path(
    env_str("JUNCTION_FLEET_OFFLINE_KEYS", str(VAR_DIR / "fleet-keys" / "offline"))
)
JUNCTION_FLEET_ONLINE_KEYS = Path(
    env_str("JUNCTION_FLEET_ONLINE_KEYS", str(VAR_DIR / "fleet-keys" / "online"))
)
# How long a device waits between check-ins (it adds its own jitter).
JUNCTION_FLEET_POLL_SECONDS = env_int("JUNCTION_FLEET_POLL_SECONDS", 300)

# Device secrets are kept encrypted under this key (Fernet); see junction.sites.credentials.
JUNCTION_CREDENTIALS_KEY = env_str("JUNCTION_CREDENTIALS_KEY")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("JUNCTION_LOG_LEVEL", "INFO")},
}
