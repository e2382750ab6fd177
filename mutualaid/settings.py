"""Settings for the mutual-aid service, read from environment variables.

With no variables set this is the embedded default a newcomer gets: DEBUG on, a SQLite
file, the in-memory channel layer and e-mail printed to the console. Production sets
DATABASE_URL (PostgreSQL), REDIS_URL (channels_redis), SECRET_KEY, ALLOWED_HOSTS and
DEBUG=0; the README lists every variable.
"""

import os
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

DEFAULT_SECRET_KEY = "insecure-development-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY: the default key is only for DEBUG=1.")
if not DEBUG and (
    len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-")
):
    # Django's own rule (check --deploy, security.W009), refused at start rather than warned.
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak: use at least 50 random characters, e.g. from "
        "'python -c \"import secrets; print(secrets.token_urlsafe(50))\"'."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "django_ratelimit",
    "phonenumber_field",
    "ninja",  # /api/v1/: its docs page then uses its own static files, not a CDN
    # Two-factor sign-in (mutualaid/accounts/two_factor.py): authenticator apps and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "mutualaid.operations",
    "mutualaid.accounts",
    "mutualaid.aid",
    "mutualaid.reports",
    "mutualaid.partners",
    "matching",
    "notifications",
    "worker",
]

MIDDLEWARE = [
    # /healthz, /readyz and /metrics are answered here, before redirects, host checks and sessions.
    "mutualaid.operations.middleware.ProbesMiddleware",
    "mutualaid.operations.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A NUL byte in a parameter: 400 before any view reads it (PostgreSQL refuses NUL in text).
    "mutualaid.operations.unavailable.RejectNulBytesMiddleware",
    # The database unreachable or every pooled connection busy: 503 with Retry-After.
    "mutualaid.operations.unavailable.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session confirmed a one-time code.
    "django_otp.middleware.OTPMiddleware",
    "mutualaid.operations.middleware.NoStoreForSignedInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Coordinators' and staff's sessions: an idle limit and an absolute one (ASVS 3.3).
    "mutualaid.accounts.middleware.ShortSessionsMiddleware",
    # Those who see other people's data: no page before the second step (accounts/two_factor.py).
    "mutualaid.accounts.middleware.TwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mutualaid.urls"
ASGI_APPLICATION = "mutualaid.asgi.application"
WSGI_APPLICATION = None

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
                "django.template.context_processors.i18n",
                "mutualaid.context_processors.map_settings",
                "mutualaid.context_processors.community_identity",
            ],
        },
    },
]

# SQLite file by default; DATABASE_URL=postgres://... in production and CI.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
# The test database's name, explicitly: Channels' live server (a forked daphne) reads it to
# find the database the tests created, and would otherwise prefix "test_" a second time.
DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so the browser tests' live server (another thread) sees the data.
    # One file per test process, so two test runs on one machine never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"mutualaid-test-{os.getpid()}.sqlite3")
    }
    # IMMEDIATE: a transaction takes the write lock when it begins, so concurrent writers
    # wait for each other instead of failing half-way with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
# PostgreSQL: a pool of connections per process (psycopg's, through Django), so in-flight
# requests share DATABASE_POOL_MAX_SIZE connections instead of opening one each. A request
# that waits longer than DATABASE_POOL_TIMEOUT_SECONDS for one is answered 503 with
# Retry-After (mutualaid.operations.unavailable). The pool replaces persistent
# connections: DATABASE_CONN_MAX_AGE only applies with DATABASE_POOL_MAX_SIZE=0. Django
# checks each connection as it leaves the pool, so one the server ended (a restart,
# pg_terminate_backend) is replaced instead of failing the request that got it.
DATABASE_POOL_MAX_SIZE = int(os.environ.get("DATABASE_POOL_MAX_SIZE", "10"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_MAX_SIZE > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # with a pool: check_connection on checkout
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(int(os.environ.get("DATABASE_POOL_MIN_SIZE", "2")), DATABASE_POOL_MAX_SIZE),
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": float(os.environ.get("DATABASE_POOL_TIMEOUT_SECONDS", "5")),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

REDIS_URL = os.environ.get("REDIS_URL", "")
# Parallel test processes (pytest-xdist sets PYTEST_XDIST_WORKER) sharing one Redis keep
# their keys apart; everywhere else this is just CHANNEL_PREFIX.
CHANNEL_PREFIX = os.environ.get("CHANNEL_PREFIX", "mutualaid") + os.environ.get("PYTEST_XDIST_WORKER", "")
# A socket's group memberships end this long after it last renewed them; every open socket
# renews them three times as often. A daphne that dies (no disconnect) leaves its members
# behind for at most this long, instead of channels_redis's default day.
LIVE_GROUP_EXPIRY_SECONDS = int(os.environ.get("LIVE_GROUP_EXPIRY_SECONDS", "300"))
# How often each daphne asks Redis whether it lost the groups (a restart): sockets that
# stayed open are then closed to join again (notifications/consumers.py, LayerDataWatch).
LIVE_LAYER_CHECK_SECONDS = float(os.environ.get("LIVE_LAYER_CHECK_SECONDS", "2"))
# Open sockets one person may hold in one daphne; one more is closed with 4429.
LIVE_SOCKETS_PER_PERSON = int(os.environ.get("LIVE_SOCKETS_PER_PERSON", "10"))
# A socket message longer than this is answered with an error, unread (actions are tiny).
LIVE_SOCKET_MESSAGE_MAX_CHARACTERS = 4096
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis's layer plus a pipelined group_send_many for bursts of events
            # (a matching run's proposals): notifications/layers.py. channels_redis's own
            # layers were measured against it: its core layer is slower in a burst, its
            # pub/sub layer loses events across a Redis restart unnoticed (docs/live.md).
            "BACKEND": "notifications.layers.BatchingRedisChannelLayer",
            # redis-py 8 times reads out after 5 s, as long as channels_redis's blocking
            # BZPOPMIN: an idle socket's consumer would die with TimeoutError (channels_redis#422).
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                "prefix": CHANNEL_PREFIX,
                # Every socket of one daphne shares one Redis queue, so a matching run's burst
                # (an event per proposal) lands there at once: the default 100 would drop the
                # 101st event of a run of 100 proposals.
                "capacity": 2000,
                "group_expiry": LIVE_GROUP_EXPIRY_SECONDS,
                # Redis connections per daphne (or worker); more callers wait, at most 20 s.
                "max_connections": int(os.environ.get("REDIS_MAX_CONNECTIONS", "50")),
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Its own prefix, so clearing the cache's keys never touches the channel layer's.
            "KEY_PREFIX": f"{CHANNEL_PREFIX}-cache",
        }
    }
else:
    # Channels' in-memory layer, sweeping for expired messages once a second rather than on
    # every send and receive (that sweep walks every socket's channel: notifications/layers.py;
    # Channels' stock layer was measured 13-32 times slower at a burst's p99: docs/live.md).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "notifications.layers.SweepingOncePerSecondInMemoryChannelLayer",
            "CONFIG": {"group_expiry": LIVE_GROUP_EXPIRY_SECONDS},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Argon2id at OWASP's minimum cost first (mutualaid/accounts/hashers.py says why); the others
# only verify older hashes, which are rewritten with the first at the next login.
PASSWORD_HASHERS = [
    "mutualaid.accounts.hashers.OwaspArgon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Coordinators, staff and superusers see every address: their sessions end after this long
# without activity (an open live dashboard counts) and this long after signing in (OWASP
# ASVS L2 3.3). Everyone else keeps Django's two weeks (SESSION_COOKIE_AGE).
COORDINATOR_SESSION_IDLE_MINUTES = float(os.environ.get("COORDINATOR_SESSION_IDLE_MINUTES", "30"))
COORDINATOR_SESSION_MAX_HOURS = float(os.environ.get("COORDINATOR_SESSION_MAX_HOURS", "12"))
LOGIN_URL = "login"
# Coordinators, referrers, staff and superusers see other people's personal data: after their
# password they give a code from an authenticator app (or a recovery code). Production
# (DEBUG=0) always enforces it: the variable can only turn it off on a developer's machine.
TWO_FACTOR_REQUIRED = env_bool("TWO_FACTOR_REQUIRED", True) or not DEBUG
# The name authenticator apps show next to the codes.
OTP_TOTP_ISSUER = os.environ.get("TWO_FACTOR_ISSUER", "Mutual aid")
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en"
LANGUAGES = [("nl", "Nederlands"), ("fr", "Français"), ("en", "English")]
# Day-first dates on a 24-hour clock in every language (mutualaid/formats/).
FORMAT_MODULE_PATH = ["mutualaid.formats"]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Brussels")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# nginx serves this folder in production (deploy/nginx-site.conf.template).
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Daphne serves static files through WhiteNoise; in DEBUG it finds them without collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Console e-mail by default; EMAIL_URL-like settings for SMTP.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Mutual aid <noreply@localhost>")
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
# A message that could not be sent is tried again after this many seconds, doubling after
# each failure (at most an hour apart), five tries in all; then coordinators are alerted.
OUTBOX_RETRY_SECONDS = int(os.environ.get("OUTBOX_RETRY_SECONDS", "60"))
# A message being sent is left alone by other workers this long (a worker that died while
# sending leaves it to be sent again then: at least once, never lost).
OUTBOX_CLAIM_SECONDS = int(os.environ.get("OUTBOX_CLAIM_SECONDS", "300"))
# The address people reach the service at, for links in e-mails.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# Phone numbers are stored in E.164; one typed without a country code is read as Belgian.
PHONENUMBER_DEFAULT_REGION = "BE"
PHONENUMBER_DB_FORMAT = "E164"
# Shown to people as "+32 470 12 34 56".
PHONENUMBER_DEFAULT_FORMAT = "INTERNATIONAL"
# Text messages (notifications/channels/sms.py): "console" prints them, "twilio" sends them
# through Twilio's Messages API (or any provider or proxy speaking it at SMS_API_BASE_URL).
SMS_BACKEND = os.environ.get("SMS_BACKEND", "console")
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")
SMS_API_BASE_URL = os.environ.get("SMS_API_BASE_URL", "https://api.twilio.com").rstrip("/")
# Texts sent per community per day (its local day); past it texts wait for the next morning.
SMS_DAILY_CAP = int(os.environ.get("SMS_DAILY_CAP", "200"))

# Geocoding: the offline gazetteer answers first (the demo works without internet); a
# miss asks geopy's provider unless GEOCODER=offline. A city can run its own Nominatim.
GEOCODER = os.environ.get("GEOCODER", "nominatim")
NOMINATIM_DOMAIN = os.environ.get("NOMINATIM_DOMAIN", "nominatim.openstreetmap.org")
GEOCODER_USER_AGENT = os.environ.get("GEOCODER_USER_AGENT", "mutualaid-matching-service")
GEOCODER_TIMEOUT_SECONDS = float(os.environ.get("GEOCODER_TIMEOUT_SECONDS", "4"))
# Where the service works: online lookups stay in these countries (ISO 3166-1 alpha-2,
# comma-separated; empty for anywhere), and the offline table reads postcodes of this shape.
GEOCODER_COUNTRY_CODES = [
    code.strip().lower() for code in os.environ.get("GEOCODER_COUNTRY_CODES", "be").split(",") if code.strip()
]
GEOCODER_POSTCODE_PATTERN = os.environ.get("GEOCODER_POSTCODE_PATTERN", r"\b[1-9]\d{3}\b")

# Map tiles for Leaflet; empty disables the background tiles (tests, offline demos).
MAP_TILE_URL = os.environ.get("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")

# Details of requests done or cancelled this long ago are forgotten (purge_personal_data).
PERSONAL_DATA_RETENTION_DAYS = int(os.environ.get("PERSONAL_DATA_RETENTION_DAYS", "180"))

# Browser push notifications (Web Push with VAPID): off until both keys are set. The public
# key is the browser's applicationServerKey (base64url, uncompressed P-256 point), the
# private key its pair (base64url raw or DER); `manage.py generate_vapid_keys` prints a pair.
# The subject is a mailto: or https: address push services may contact about abuse.
VAPID_PUBLIC_KEY = os.environ.get("VAPID_PUBLIC_KEY", "")
VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY", "")
VAPID_SUBJECT = os.environ.get("VAPID_SUBJECT", "mailto:noreply@localhost")

# A proposal the volunteer has not answered expires and the request is matched again.
PROPOSAL_EXPIRY_HOURS = float(os.environ.get("PROPOSAL_EXPIRY_HOURS", "24"))
# ...sooner for a request marked "today, it is urgent": a day's wait would be the whole day.
PROPOSAL_EXPIRY_HOURS_URGENT = float(os.environ.get("PROPOSAL_EXPIRY_HOURS_URGENT", "2"))
# Recurring help: the worker files each occurrence this many days before its day.
RECURRING_HELP_DAYS_AHEAD = int(os.environ.get("RECURRING_HELP_DAYS_AHEAD", "7"))

# The open figures' licence, named on the transparency page and in its CSV and JSON.
OPEN_DATA_LICENCE_NAME = os.environ.get("OPEN_DATA_LICENCE_NAME", "CC BY 4.0")
OPEN_DATA_LICENCE_URL = os.environ.get(
    "OPEN_DATA_LICENCE_URL", "https://creativecommons.org/licenses/by/4.0/"
)

# Content Security Policy: no inline script anywhere; map tiles are the only outside images.
_tile_origin = "/".join(MAP_TILE_URL.split("/")[:3]) if MAP_TILE_URL.startswith("http") else None
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"] + ([_tile_origin] if _tile_origin else []),
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Rate limits (django-ratelimit) count in the default cache: Redis in production.
RATELIMIT_VIEW = None
# Behind reverse proxies every request arrives from the last proxy's address: say how many
# proxies append to X-Forwarded-For so that limits count each client's own address.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
RATELIMIT_IP_META_KEY = "mutualaid.limits.client_address"
RATE_LIMITS = {
    "signup": os.environ.get("RATE_LIMIT_SIGNUP", "5/h"),
    "login": os.environ.get("RATE_LIMIT_LOGIN", "10/m"),
    "post_request": os.environ.get("RATE_LIMIT_POST_REQUEST", "20/h"),
    "socket_message": os.environ.get("RATE_LIMIT_SOCKET_MESSAGE", "60/m"),
    "password_reset": os.environ.get("RATE_LIMIT_PASSWORD_RESET", "5/h"),
    # Per person: one-time codes tried on the second step of signing in (and at enrolment).
    "two_factor": os.environ.get("RATE_LIMIT_TWO_FACTOR", "5/m"),
    # Per API key (Open311 and /api/v1/), every call counted.
    "api": os.environ.get("RATE_LIMIT_API", "120/m"),
}
SILENCED_SYSTEM_CHECKS = [
    # Django's own RedisCache increments atomically (Redis INCR), which is all it needs.
    "django_ratelimit.W001",
]
if not REDIS_URL:
    # The embedded default is one process, so a per-process cache counts correctly.
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")

if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# One line per event with time, level and logger; LOG_FORMAT=json for one JSON object per line.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"()": "mutualaid.operations.logs.OneLineFormatter"},
        "json": {"()": "mutualaid.operations.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}

# Operations: /readyz wants a worker heartbeat younger than this; /metrics answers a bearer
# token or peers (the socket's address, never a forwarded header) in these networks.
READY_WORKER_MAX_AGE_SECONDS = float(os.environ.get("READY_WORKER_MAX_AGE_SECONDS", "60"))
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")

# Matching runs a few seconds after a trigger (several triggers, one run), off the request
# thread: inside daphne for the embedded default, in `manage.py worker` processes
# in production (MATCHING_WORKER=external, the default when REDIS_URL is set).
MATCHING_WORKER = os.environ.get("MATCHING_WORKER", "external" if REDIS_URL else "in-process")
MATCHING_DEBOUNCE_SECONDS = float(os.environ.get("MATCHING_DEBOUNCE_SECONDS", "0.5"))
# A coordinator's hold keeps matching away from a request this long (or until released).
COORDINATOR_HOLD_MINUTES = int(os.environ.get("COORDINATOR_HOLD_MINUTES", "15"))
# A coordinator's "I'll call them" lapses after this, so a forgotten one blocks no one.
CALL_CLAIM_MINUTES = int(os.environ.get("CALL_CLAIM_MINUTES", "120"))
# An expense the person has not confirmed paying back shows on the coordinators' dashboard
# after this many days.
EXPENSE_UNCONFIRMED_DAYS = int(os.environ.get("EXPENSE_UNCONFIRMED_DAYS", "7"))
MATCHING_TICK_SECONDS = float(os.environ.get("MATCHING_TICK_SECONDS", "30"))
# Fair turns: each task a volunteer accepted or did in the last MATCHING_FAIR_TURN_DAYS days,
# and each proposal waiting for their answer, adds this many km to every distance matching
# weighs for them (at most MATCHING_FAIR_TURN_MAX_KM), so among near-equal choices the
# volunteer who has not helped lately gets the task; a much nearer one still wins.
MATCHING_FAIR_TURN_KM_PER_TASK = float(os.environ.get("MATCHING_FAIR_TURN_KM_PER_TASK", "0.5"))
MATCHING_FAIR_TURN_DAYS = int(os.environ.get("MATCHING_FAIR_TURN_DAYS", "14"))
MATCHING_FAIR_TURN_MAX_KM = float(os.environ.get("MATCHING_FAIR_TURN_MAX_KM", "2"))
# A volunteer's "I can help in the next hours" switch (urgent requests only) lasts this long,
# then switches itself off.
AVAILABLE_NOW_HOURS = float(os.environ.get("AVAILABLE_NOW_HOURS", "3"))
# The same face again: the volunteer who last did a task for the same citizen in the same
# kind of help, within MATCHING_CONTINUITY_DAYS days, is the request's `preferred` one, and
# their distance to it counts this many km less (so they win among near-equal choices).
MATCHING_CONTINUITY_BONUS_KM = float(os.environ.get("MATCHING_CONTINUITY_BONUS_KM", "2"))
MATCHING_CONTINUITY_DAYS = int(os.environ.get("MATCHING_CONTINUITY_DAYS", "90"))
# An urgent request ("today") for one volunteer is proposed to this many of its best
# volunteers at once (1-3): the first to accept takes it and the others' proposals are
# withdrawn at once. 1: one at a time, as every other request.
MATCHING_URGENT_ASK_AT_ONCE = int(os.environ.get("MATCHING_URGENT_ASK_AT_ONCE", "3"))
if not 1 <= MATCHING_URGENT_ASK_AT_ONCE <= 3:
    raise ImproperlyConfigured("MATCHING_URGENT_ASK_AT_ONCE must be 1, 2 or 3.")
# A request for one volunteer whose proposals have gone unanswered this long is proposed to
# the next best volunteer too (the first to accept takes it), up to three asked at once, so a
# volunteer who never answers holds it this long rather than PROPOSAL_EXPIRY_HOURS. 0: never.
MATCHING_ASK_ANOTHER_AFTER_HOURS = float(os.environ.get("MATCHING_ASK_ANOTHER_AFTER_HOURS", "4"))
# A worker's claim on a community's run is a lease: if the worker dies mid-run (its
# transaction rolled back), the community is due again after this and another worker runs it.
MATCHING_CLAIM_SECONDS = float(os.environ.get("MATCHING_CLAIM_SECONDS", "60"))
