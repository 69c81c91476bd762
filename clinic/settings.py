"""Settings of the portal, read from the environment only (see README, "Configuration")."""

import datetime
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from clinic.env import env_ae_title, env_bool, env_int, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("PORTAL_DATA_DIR", str(BASE_DIR / "data"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data folder."""
    configured = env_str("SECRET_KEY")
    if configured:
        return configured
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = (env_str("ALLOWED_HOSTS", "*") or "*").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in (env_str("CSRF_TRUSTED_ORIGINS", "") or "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "clinic",
    "imaging",
    "worklist",
    "reports",
    "sharing",
    "printing",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "frontend.context.portal",
                "frontend.storage_status.storage_banner",
            ],
        },
    },
]

# Database: PostgreSQL from DATABASE_URL, else SQLite in the data folder. SQLite is shared by
# the web server, the DICOM listener and the worker, so it runs in WAL mode with a busy timeout
# and IMMEDIATE transactions: writers queue for the lock instead of failing "database is locked".
# synchronous=FULL: a C-STORE success promises the index row survives a power cut.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "portal.sqlite3",
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000;",
            },
            # A file, not memory, so subprocesses started by tests see the same test database.
            "TEST": {"NAME": str(DATA_DIR / "test-portal.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "arrivals"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    # Stored DICOM files and thumbnails. Local folder by default; any Django storage backend
    # (an object store) can replace it without touching the code that writes through it.
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DATA_DIR / "files")},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Background work. With REDIS_URL, Celery on Redis; without it, tasks run on a thread of the
# process that queued them (embedded mode). See clinic/queue.py.
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "requeue-stalled-thumbnails": {
        "task": "imaging.tasks.requeue_stalled_thumbnails",
        "schedule": 300,
    },
    "complete-idle-studies": {"task": "imaging.tasks.complete_idle_studies", "schedule": 60},
}

# The association log (imaging/association_models.py): days every DICOM association is kept.
ASSOCIATION_LOG_DAYS = env_int("ASSOCIATION_LOG_DAYS", 90, minimum=1, maximum=3650)
CELERY_BEAT_SCHEDULE["purge-association-log"] = {
    "task": "imaging.tasks.purge_association_log",
    "schedule": 3600,
}

# DICOM listener.
DICOM_AE_TITLE = env_ae_title("DICOM_AE_TITLE", "VETPORTAL")
DICOM_PORT = env_int("DICOM_PORT", 11112, minimum=1, maximum=65535)
DICOM_BIND_ADDRESS = env_str("DICOM_BIND_ADDRESS", "0.0.0.0")
# Only registered devices may send when on; any calling AE title otherwise.
DICOM_REQUIRE_KNOWN_DEVICES = env_bool("DICOM_REQUIRE_KNOWN_DEVICES", False)
# Largest P-DATA PDU we offer to receive: large PDUs cut per-PDU overhead on big images.
DICOM_MAX_PDU = env_int("DICOM_MAX_PDU", 4 * 1024 * 1024, minimum=0, maximum=1 << 30)
DICOM_MAX_ASSOCIATIONS = env_int("DICOM_MAX_ASSOCIATIONS", 32, minimum=1, maximum=1000)
# A fresh disk check before each store: below this many free bytes we answer "out of resources".
DICOM_MIN_FREE_BYTES = env_int("DICOM_MIN_FREE_BYTES", 256 * 1024 * 1024, minimum=0)

# The drop folder for devices that can only export files (imaging/dropfolder.py): on by default
# in the embedded mode; with DATABASE_URL only when set. "off" turns it off.
PORTAL_DROP_FOLDER = env_str("PORTAL_DROP_FOLDER", "" if DATABASE_URL else str(DATA_DIR / "drop"))
if (PORTAL_DROP_FOLDER or "").lower() in ("", "off", "0", "no", "none"):
    PORTAL_DROP_FOLDER = ""
# Seconds a file must stay unchanged before it is taken (a copy still running is left alone).
PORTAL_DROP_FOLDER_SETTLE_SECONDS = env_int(
    "PORTAL_DROP_FOLDER_SETTLE_SECONDS", 5, minimum=0, maximum=3600
)
# DICOM over TLS on a second port (0: off), imaging/dicom/tls.py. The key may sit in the
# certificate file. With a CA file, callers must present a client certificate signed by it.
# The files themselves are checked when the listener starts (it refuses to start, in words).
DICOM_TLS_PORT = env_int("DICOM_TLS_PORT", 0, minimum=0, maximum=65535)
DICOM_TLS_CERT_FILE = env_str("DICOM_TLS_CERT_FILE", "") or ""
DICOM_TLS_KEY_FILE = env_str("DICOM_TLS_KEY_FILE", "") or ""
DICOM_TLS_CA_FILE = env_str("DICOM_TLS_CA_FILE", "") or ""
if DICOM_TLS_PORT and not DICOM_TLS_CERT_FILE:
    raise ImproperlyConfigured("DICOM_TLS_PORT is set but DICOM_TLS_CERT_FILE is not")
if DICOM_TLS_PORT and DICOM_TLS_PORT == DICOM_PORT:
    raise ImproperlyConfigured("DICOM_TLS_PORT must differ from DICOM_PORT")
# Storage status (imaging/storage_status.py): staff pages warn when free space on storage falls
# below either threshold, well before the listener starts refusing at DICOM_MIN_FREE_BYTES.
STORAGE_WARN_FREE_BYTES = env_int("STORAGE_WARN_FREE_BYTES", 10 * 1024**3, minimum=0)
STORAGE_WARN_FREE_PERCENT = env_int("STORAGE_WARN_FREE_PERCENT", 5, minimum=0, maximum=100)

# Accession numbers the portal assigns to booked exams: a str.format pattern with `{date}` (the
# booking day) and `{seq}` (its number that day). PS3.5: at most 16 characters.
WORKLIST_ACCESSION_FORMAT = env_str("WORKLIST_ACCESSION_FORMAT", "A{date:%y%m%d}{seq:04d}")
try:
    _sample_accession = WORKLIST_ACCESSION_FORMAT.format(date=datetime.date(2026, 12, 31), seq=9999)
except (KeyError, ValueError, IndexError) as exc:
    raise ImproperlyConfigured(f"WORKLIST_ACCESSION_FORMAT is not a valid pattern: {exc}") from exc
if len(_sample_accession) > 16:
    raise ImproperlyConfigured(
        "WORKLIST_ACCESSION_FORMAT makes accession numbers over 16 characters"
    )
# Issuer of Patient ID (0010,0021) the worklist gives the clinic's own patient IDs (stored
# without one). Empty: none. An LO value: at most 64 characters, no backslash.
PATIENT_ID_ISSUER = (env_str("PATIENT_ID_ISSUER", "") or "").strip()
if len(PATIENT_ID_ISSUER) > 64 or "\\" in PATIENT_ID_ISSUER:
    raise ImproperlyConfigured(
        f"PATIENT_ID_ISSUER={PATIENT_ID_ISSUER!r} is not a valid issuer (at most 64 "
        "characters, no backslash)"
    )

PORTAL_HTTP_PORT = env_int("PORTAL_HTTP_PORT", 8000, minimum=1, maximum=65535)
PORTAL_CLINIC_NAME = env_str("PORTAL_CLINIC_NAME", "Veterinary Imaging Portal")
# The clinic's letterhead on report PDFs (reports/pdf.py).
PORTAL_CLINIC_ADDRESS = env_str("PORTAL_CLINIC_ADDRESS", "") or ""
PORTAL_CLINIC_PHONE = env_str("PORTAL_CLINIC_PHONE", "") or ""
PORTAL_CLINIC_EMAIL = env_str("PORTAL_CLINIC_EMAIL", "") or ""

# Email (reports to referring vets). EMAIL_BACKEND is "console" (default: printed to the log),
# "smtp", "file", "locmem", "dummy" or a dotted path to a Django email backend.
_EMAIL_BACKENDS = {
    name: f"django.core.mail.backends.{name}.EmailBackend"
    for name in ("console", "smtp", "file", "locmem", "dummy")
}
_email_backend = env_str("EMAIL_BACKEND", "console") or "console"
if _email_backend in _EMAIL_BACKENDS:
    EMAIL_BACKEND = _EMAIL_BACKENDS[_email_backend]
elif "." in _email_backend:
    EMAIL_BACKEND = _email_backend
else:
    raise ImproperlyConfigured(
        f"EMAIL_BACKEND={_email_backend!r} is not one of {', '.join(_EMAIL_BACKENDS)} "
        "or a dotted path"
    )
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "") or ""
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1, maximum=600)
EMAIL_FILE_PATH = str(DATA_DIR / "outbox")
DEFAULT_FROM_EMAIL = (
    env_str("DEFAULT_FROM_EMAIL") or PORTAL_CLINIC_EMAIL or "imaging-portal@localhost"
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: a request without credentials gets 401 with WWW-Authenticate: Token.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Veterinary Imaging Portal API",
    "DESCRIPTION": "Owners, patients, studies, series, instances, thumbnails, procedures and orders.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema describes the clinic's API; only signed-in staff and API clients read it.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI and ReDoc come from the portal's own static files: clinics may have no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for choice sets used by several fields.
    "ENUM_NAME_OVERRIDES": {"FilmSizeEnum": "printing.models.FILM_SIZE_CHOICES"},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        name: {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}
        for name in ("clinic", "imaging", "reports", "sharing", "frontend", "celery")
    },
}

# Sends to DICOM destinations (imaging/send.py): retries of transient failures back off
# exponentially from SEND_RETRY_BASE_SECONDS up to SEND_RETRY_MAX_SECONDS, SEND_MAX_ATTEMPTS in
# all; a destination's storage commitment report is awaited SEND_COMMITMENT_TIMEOUT_SECONDS
# before the send is checked by C-FIND (or left "sent, unconfirmed").
SEND_MAX_ATTEMPTS = env_int("SEND_MAX_ATTEMPTS", 6, minimum=1, maximum=100)
SEND_RETRY_BASE_SECONDS = env_int("SEND_RETRY_BASE_SECONDS", 10, minimum=1, maximum=3600)
SEND_RETRY_MAX_SECONDS = env_int("SEND_RETRY_MAX_SECONDS", 1800, minimum=1, maximum=86400)
SEND_COMMITMENT_TIMEOUT_SECONDS = env_int(
    "SEND_COMMITMENT_TIMEOUT_SECONDS", 300, minimum=1, maximum=86400
)
# A send whose worker has not reported progress for this long lost its worker (killed, or its
# machine gone): another worker takes it over and sends what was not yet recorded as sent.
SEND_STALE_SECONDS = env_int("SEND_STALE_SECONDS", 120, minimum=5, maximum=86400)
# A send waiting for one of its destination's association slots looks again after this long.
SEND_SLOT_WAIT_SECONDS = env_int("SEND_SLOT_WAIT_SECONDS", 5, minimum=1, maximum=600)
CELERY_BEAT_SCHEDULE["requeue-due-sends"] = {
    "task": "imaging.tasks.requeue_due_sends",
    "schedule": 60,
}
CELERY_BEAT_SCHEDULE["route-quiet-studies"] = {
    "task": "imaging.tasks.route_quiet_studies",
    "schedule": 30,
}

# Share links for outside specialists (sharing/): expiry in days (default and the most a vet may
# choose), the base of emailed links when no request names the host, and the passcode lockout.
SHARE_DEFAULT_EXPIRY_DAYS = env_int("SHARE_DEFAULT_EXPIRY_DAYS", 14, minimum=1, maximum=3650)
SHARE_MAX_EXPIRY_DAYS = env_int("SHARE_MAX_EXPIRY_DAYS", 90, minimum=1, maximum=3650)
if SHARE_DEFAULT_EXPIRY_DAYS > SHARE_MAX_EXPIRY_DAYS:
    raise ImproperlyConfigured("SHARE_DEFAULT_EXPIRY_DAYS is longer than SHARE_MAX_EXPIRY_DAYS")
SHARE_LINK_BASE_URL = (
    env_str("SHARE_LINK_BASE_URL", f"http://localhost:{PORTAL_HTTP_PORT}") or ""
).rstrip("/")
SHARE_PASSCODE_ATTEMPTS = env_int("SHARE_PASSCODE_ATTEMPTS", 5, minimum=1, maximum=100)
SHARE_PASSCODE_LOCKOUT_MINUTES = env_int(
    "SHARE_PASSCODE_LOCKOUT_MINUTES", 15, minimum=1, maximum=10080
)
