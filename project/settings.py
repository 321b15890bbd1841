"""Every setting of the project, read from the environment in this one place.

The defaults are the embedded single-machine setup that `make run` starts: SQLite, media on
local disk under var/media, the local Redis. See the configuration table in the README and
../shared/INTERFACE.md for what each variable means.
"""

from __future__ import annotations

from pathlib import Path

import botocore.config
import environ
from boto3.s3.transfer import TransferConfig
from django.core.exceptions import ImproperlyConfigured

from project.secret_key import local_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var"))).resolve()

# --- Core -------------------------------------------------------------------------------------

DEBUG = env.bool("DJANGO_DEBUG", default=True)

SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])

if not DEBUG:
    # Production refuses to start half-configured: every web host must share one given key.
    if len(SECRET_KEY) < 32:
        raise ImproperlyConfigured("DJANGO_DEBUG=false needs SECRET_KEY (32+ random characters).")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_DEBUG=false needs ALLOWED_HOSTS (comma-separated).")

if not SECRET_KEY:
    # The embedded setup (`make run`, manage.py): a random key made on the first start.
    SECRET_KEY = local_secret_key(VAR_DIR / "secret_key")

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "storages",
    "corsheaders",
    "axes",
    "media_pipeline",
    "streaming",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # right under SecurityMiddleware, as it asks
    # Above the stream middleware, so that stream answers carry X-Frame-Options too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Above CommonMiddleware, as django-cors-headers asks; it only answers /api/uploads/.
    "corsheaders.middleware.CorsMiddleware",
    # Signed stream requests (seeks) are answered here, before the session, the user and URL
    # resolving, as WhiteNoise answers static files (streaming/middleware.py).
    "streaming.middleware.StreamMiddleware",
    "project.middleware.MalformedSessionCookieMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "media_pipeline.auth.BearerTokenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Last, as django-axes requires: it turns a locked-out sign-in into the 429 lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; the timeout rides out short locks.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
# Reuse connections across requests: for the stream view's single query, opening a
# connection (even to SQLite) costs more than the query itself.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, i18n, static -----------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Login throttling (django-axes). Its backend comes first so a locked-out sign-in is refused
# before any password is checked; ModelBackend still does the authenticating.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Either one locks: guessing one account's password from many addresses, or trying many
# accounts from one address, gets AXES_FAILURE_LIMIT tries per cool-off.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
# Read in seconds like every duration here; django-axes takes a float as hours.
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_SECONDS", default=15 * 60) / 3600
# A successful sign-in clears nothing: axes would clear every failure from that address too,
# so anyone with an account could sign in between guesses at another and never be locked.
# Failures still expire after the cool-off.
AXES_RESET_ON_SUCCESS = False
# Failures are what the lock needs; a row for every successful sign-in would only grow.
AXES_DISABLE_ACCESS_LOG = True
# Every attempt while locked starts the cool-off again, so the lockout page's "try again in"
# stays true for whoever reads it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
AXES_LOCKOUT_CALLABLE = "project.lockout.lockout_response"
# Proxies of ours in front (nginx) that append the client to X-Forwarded-For. At 0 only
# REMOTE_ADDR counts: trusting the header with no proxy to vouch for it lets any client pick
# a fresh address per attempt; behind nginx with 0, every client shares nginx's address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Behind our nginx, which always replaces X-Forwarded-Proto with its own $scheme: that header
# then says whether the client's connection was HTTPS (secure cookies, redirects, CSRF).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXY_COUNT else None
# SecurityMiddleware sends these on every response (Django's defaults, stated here because the
# pages rely on them): no page's URL, with its signed stream links, leaks to another origin, and
# no response is sniffed into another type.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
AXES_CLIENT_IP_CALLABLE = "project.lockout.client_ip_address"
AXES_USERNAME_CALLABLE = "project.lockout.client_username"
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_TIME <= 0 or TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("AXES_FAILURE_LIMIT and AXES_COOLOFF_SECONDS must be 1 or more, "
                               "TRUSTED_PROXY_COUNT 0 or more.")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Serve app static files straight from their folders until collectstatic has run.
WHITENOISE_USE_FINDERS = True

# --- Media storage ----------------------------------------------------------------------------

MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="local")
if MEDIA_STORAGE not in ("local", "s3"):
    raise ImproperlyConfigured(f"MEDIA_STORAGE must be 'local' or 's3', not {MEDIA_STORAGE!r}.")

MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))).resolve()
# Media is never served by URL from MEDIA_ROOT: every byte goes through the streaming view,
# which checks access. The prefix only exists because Django requires it.
MEDIA_URL = "/_media-not-served/"

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="us-east-1")
AWS_S3_ADDRESSING_STYLE = env.str("AWS_S3_ADDRESSING_STYLE", default="") or None
# Presigned URLs (STREAM_DELIVERY=redirect) must be signed for the host the browser uses.
AWS_S3_PUBLIC_ENDPOINT_URL = env.str("AWS_S3_PUBLIC_ENDPOINT_URL", default="") or None
AWS_S3_MAX_POOL_CONNECTIONS = env.int("AWS_S3_MAX_POOL_CONNECTIONS", default=50)

if MEDIA_STORAGE == "s3" and not AWS_STORAGE_BUCKET_NAME:
    raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")

# One client configuration for django-storages and for our own ranged GETs: a pool big enough
# for concurrent streams, bounded timeouts, and botocore's standard retry of 5xx/throttling.
# Response checksums are validated only where an operation requires it, not on every GetObject:
# S3 sends a checksum only for whole-object GETs (never for a seek's range), the stream proxy
# could report a mismatch only after forwarding every byte, and the bytes are already pinned to
# the ETag the worker stored with its own SHA-256. Validating cost the web process a CRC32 over
# each whole-file stream (`make bench-stream`, S3 proxy). Uploads still send checksums.
AWS_S3_CLIENT_CONFIG = botocore.config.Config(
    response_checksum_validation="when_required",
    s3={"addressing_style": AWS_S3_ADDRESSING_STYLE} if AWS_S3_ADDRESSING_STYLE else {},
    signature_version="s3v4",
    max_pool_connections=AWS_S3_MAX_POOL_CONNECTIONS,
    connect_timeout=env.int("AWS_S3_CONNECT_TIMEOUT", default=5),
    read_timeout=env.int("AWS_S3_READ_TIMEOUT", default=30),
    retries={"max_attempts": env.int("AWS_S3_MAX_ATTEMPTS", default=3), "mode": "standard"},
)

# django-storages' S3Storage reads these AWS_* settings itself (and the client configuration
# above); the presigning storage for AWS_S3_PUBLIC_ENDPOINT_URL is built from the same ones.
AWS_DEFAULT_ACL = None  # the bucket's own policy: objects are private unless it says otherwise
AWS_QUERYSTRING_AUTH = True
# Keys are the asset's UUID and a re-run after a crash writes the same key again: overwrite.
AWS_S3_FILE_OVERWRITE = True
# Saves (renditions, posters) and the staged-to-stored copy: multipart above 64 MiB, in 64 MiB
# parts, four at a time.
AWS_S3_TRANSFER_CONFIG = TransferConfig(multipart_threshold=64 * 1024 * 1024,
                                        multipart_chunksize=64 * 1024 * 1024, max_concurrency=4)

# The storage behind every stored object (media_pipeline/storage.py), one per MEDIA_STORAGE
# value. FileSystemStorage's location is MEDIA_ROOT (its default, read when used); local keys are
# overwritten in place for the same reason as S3's.
MEDIA_STORAGE_BACKENDS = {
    "local": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"allow_overwrite": True},
    },
    "s3": {"BACKEND": "storages.backends.s3.S3Storage"},
}

STORAGES = {
    "default": MEDIA_STORAGE_BACKENDS[MEDIA_STORAGE],
    # Static files only (admin CSS, the pages' script): WhiteNoise serves them from the web process.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Uploads ----------------------------------------------------------------------------------

GIB = 1024**3
MEDIA_MAX_UPLOAD_SIZE = env.int("MEDIA_MAX_UPLOAD_SIZE", default=20 * GIB)
# What uploads may be: exact types, or "video/*", "audio/*", "image/*" for all of a kind. By
# default every video, sound and picture ffmpeg decodes (media_pipeline/analysis.py pins the
# demuxer for each); scriptable and document types (SVG, PostScript, DjVu) never are, whatever
# this says. Operators who want less name the types, e.g. "video/mp4,video/quicktime".
MEDIA_ALLOWED_TYPES = env.list("MEDIA_ALLOWED_TYPES", default=["video/*", "audio/*", "image/*"])
# Local staging sits beside MEDIA_ROOT so the final store is a rename on the same filesystem.
MEDIA_STAGING_ROOT = Path(
    env.str("MEDIA_STAGING_ROOT", default=str(MEDIA_ROOT.parent / "staging"))
).resolve()
# Uploads stream to staging in chunks of this size; nothing larger is held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Resumable (tus) uploads, /api/uploads/ (media_pipeline/tus.py): an upload nobody has added to
# for this long expires (410) and the reaper deletes what it staged.
MEDIA_UPLOAD_EXPIRY_SECONDS = env.int("MEDIA_UPLOAD_EXPIRY_SECONDS", default=24 * 3600)
# The upload page sends resumable uploads in PATCHes of this many bytes: below the body limit of
# any proxy in front (Cloudflare's is 100 MB; nginx's default 1 MB, see deploy/nginx), and a
# dropped connection costs at most this much again. A whole number of 8 MiB S3 parts is best.
MEDIA_UPLOAD_CHUNK_SIZE = env.int("MEDIA_UPLOAD_CHUNK_SIZE", default=16 * 1024 * 1024)
# A PATCH holds its upload's lease while it runs, renewing it as bytes arrive; a lease its web
# process died holding is free again after this long.
MEDIA_UPLOAD_LEASE_SECONDS = env.int("MEDIA_UPLOAD_LEASE_SECONDS", default=30)
# Pages on other origins that may use the tus endpoints (django-cors-headers), e.g.
# "https://app.example.com"; none by default.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/uploads/"
CORS_ALLOW_METHODS = ("OPTIONS", "HEAD", "POST", "PATCH", "DELETE")
CORS_ALLOW_HEADERS = ("authorization", "content-type", "x-csrftoken", "x-requested-with",
                      "tus-resumable", "upload-length", "upload-metadata", "upload-offset",
                      "upload-checksum", "upload-defer-length", "upload-concat")
# What tus-js-client reads from a cross-origin answer (FIELD_NOTES, "Resumable uploads").
CORS_EXPOSE_HEADERS = ("location", "upload-offset", "upload-length", "upload-expires",
                       "upload-metadata", "tus-resumable", "tus-version", "tus-extension",
                       "tus-max-size", "tus-checksum-algorithm")
CORS_PREFLIGHT_MAX_AGE = 3600
# Assets left pending/processing longer than this are re-enqueued by the reconciler.
MEDIA_STUCK_AFTER_SECONDS = env.int("MEDIA_STUCK_AFTER_SECONDS", default=15 * 60)
MEDIA_MAX_ATTEMPTS = env.int("MEDIA_MAX_ATTEMPTS", default=5)
# A processing worker refreshes its claim this often; six missed beats mean it died.
MEDIA_HEARTBEAT_SECONDS = env.int("MEDIA_HEARTBEAT_SECONDS", default=10)
# An upload whose task could not be sent (broker down) is enqueued again after this long.
MEDIA_ENQUEUE_GRACE_SECONDS = env.int("MEDIA_ENQUEUE_GRACE_SECONDS", default=30)
# Retries of transient failures (S3 5xx, connection resets) back off from this many seconds.
MEDIA_RETRY_BACKOFF_SECONDS = env.int("MEDIA_RETRY_BACKOFF_SECONDS", default=5)
# ffprobe and ffmpeg run in a box (media_pipeline/ffmpeg.py): each limit below is enforced by
# the kernel or by ffmpeg itself, on every run, whatever the file says.
FFPROBE_TIMEOUT_SECONDS = env.int("FFPROBE_TIMEOUT_SECONDS", default=60)  # wall clock and CPU
FFMPEG_TIMEOUT_SECONDS = env.int("FFMPEG_TIMEOUT_SECONDS", default=30 * 60)  # wall clock
FFMPEG_CPU_SECONDS = env.int("FFMPEG_CPU_SECONDS", default=2 * FFMPEG_TIMEOUT_SECONDS)
# Address space, not resident memory: ffmpeg maps about 300 MiB of libraries before reading.
FFMPEG_MEMORY_BYTES = env.int("FFMPEG_MEMORY_BYTES", default=3 * 1024**3)
# Decoders refuse larger pictures before allocating them (a 1 MB PNG can declare 16000x16000,
# 1 GiB to decode). 120 MP is above every common camera and phone default (8K video is 33 MP).
FFMPEG_MAX_PIXELS = env.int("FFMPEG_MAX_PIXELS", default=120_000_000)
# A stream copy may write at most max(ratio x the upload, the minimum): it writes about what it
# reads, a hostile sample table thousands of times that.
FFMPEG_OUTPUT_RATIO = env.float("FFMPEG_OUTPUT_RATIO", default=1.25)
FFMPEG_OUTPUT_MIN_BYTES = env.int("FFMPEG_OUTPUT_MIN_BYTES", default=64 * 1024**2)
# A transcode may write more than a well-compressed source, and take longer than the deadline
# above for a long film: this many seconds per second of media, on every core.
FFMPEG_TRANSCODE_OUTPUT_RATIO = env.float("FFMPEG_TRANSCODE_OUTPUT_RATIO", default=4.0)
FFMPEG_TRANSCODE_SECONDS_PER_SECOND = env.float("FFMPEG_TRANSCODE_SECONDS_PER_SECOND", default=4.0)

# --- Streaming --------------------------------------------------------------------------------

# What the streaming app serves: media_pipeline's assets (streaming/objects.py, the protocol).
STREAM_RESOLVER = "media_pipeline.streams.AssetStreams"
STREAM_DELIVERY = env.str("STREAM_DELIVERY", default="proxy")
if STREAM_DELIVERY not in ("proxy", "x-accel", "redirect"):
    raise ImproperlyConfigured("STREAM_DELIVERY must be 'proxy', 'x-accel' or 'redirect'.")
# Long enough to watch and seek a long film; the URL is re-signed on every page load.
STREAM_URL_TTL = env.int("STREAM_URL_TTL", default=6 * 3600)
STREAM_MAX_RANGES = env.int("STREAM_MAX_RANGES", default=16)
STREAM_XACCEL_PREFIX = env.str("STREAM_XACCEL_PREFIX", default="/_protected/")
STREAM_PRESIGN_TTL = env.int("STREAM_PRESIGN_TTL", default=300)

# --- Celery -----------------------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=2 * 3600)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 300
# Redis redelivers an unacknowledged task after the visibility timeout: keep it above the
# longest task or a slow job runs twice (FIELD_NOTES, "Uploads and processing").
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
CELERY_RESULT_EXPIRES = 24 * 3600
# Full transcodes on a queue of their own, so long films never hold up probes and photos:
# `celery -A worker.celery_app worker -Q transcode` runs them (make run's worker takes both).
CELERY_TASK_ROUTES = {"media_pipeline.transcode_asset": {"queue": "transcode"}}
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# With the broker down an upload must still answer promptly: try briefly, then leave the asset
# pending for the reconciler.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2,
                                    "interval_max": 0.5}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BEAT_SCHEDULE = {
    "requeue-stuck-assets": {
        "task": "media_pipeline.requeue_stuck_assets",
        "schedule": env.int("MEDIA_RECONCILE_EVERY_SECONDS", default=60),
    },
    "reap-expired-uploads": {
        "task": "media_pipeline.reap_expired_uploads",
        "schedule": env.int("MEDIA_REAP_UPLOADS_EVERY_SECONDS", default=15 * 60),
    },
}

# --- Logging ----------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"botocore": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
