"""Settings of the messaging site. Every deployment-specific value comes from the environment."""

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from config.mail import SMTP, mail_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MESSAGING_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "insecure-demo-key-change-me-in-production")
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

INSTALLED_APPS = [
    "modeltranslation",
    "messaging",
    # The demo site itself: demo data, the demo SMTP server and the benchmarks.
    "config",
    "wagtail.contrib.settings",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "django_tasks",
    "django_tasks_db",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
if env_bool("MESSAGING_USE_RQ", False):
    INSTALLED_APPS += ["django_rq"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

# The demo site's own templates and CSS (its base.html, which the users' pages of messaging
# extend); the app's are inside the package, found through APP_DIRS and the app finder.
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Persistent connections: a worker keeps its connection from one task to the next instead
# of opening a new one per batch; health checks replace one the database dropped.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Workers and the web server write concurrently: WAL and IMMEDIATE transactions make
    # writers queue for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Wagtail's search index uses PostgreSQL fields and indexes whose app Django 6.1 checks for.
    INSTALLED_APPS.append("django.contrib.postgres")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("nb", _("Norwegian Bokmål"))]
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
WAGTAILADMIN_PERMITTED_LANGUAGES = LANGUAGES
LOCALE_PATHS = [BASE_DIR / "messaging" / "locale"]
TIME_ZONE = "Europe/Oslo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"

WAGTAIL_SITE_NAME = os.environ.get("SITE_NAME", "Example University")
WAGTAILADMIN_BASE_URL = os.environ.get("WAGTAILADMIN_BASE_URL", "http://127.0.0.1:8000")
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}

# Email: by default SMTP to the local server that `make demo` starts; MAILERS on Django 6.1,
# the EMAIL_* settings on 5.2 (config/mail.py). The environment keeps the EMAIL_* names.
MAIL_BACKEND = os.environ.get("EMAIL_BACKEND", SMTP)
SMTP_OPTIONS = {
    "host": os.environ.get("EMAIL_HOST", "127.0.0.1"),
    "port": int(os.environ.get("EMAIL_PORT", "8025")),
    "username": os.environ.get("EMAIL_HOST_USER", ""),
    "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
    "use_tls": env_bool("EMAIL_USE_TLS", False),
    "timeout": float(os.environ.get("EMAIL_TIMEOUT", "30")),
}
# Only the SMTP backend takes these options; Django 6.1 refuses unknown ones.
globals().update(mail_settings(MAIL_BACKEND, **(SMTP_OPTIONS if MAIL_BACKEND == SMTP else {})))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Messaging <noreply@example.org>")

# Tasks: the database backend and `manage.py db_worker` by default; RQ on Redis for many
# machines (MESSAGING_USE_RQ=1, then `manage.py rqworker --job-class django_tasks_rq.Job
# --with-scheduler high default low`: RQ orders emails by priority through one queue each).
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
if env_bool("MESSAGING_USE_RQ", False):
    _queues = ["high", "default", "low"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": _queues}}
    RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 900} for name in _queues}
else:
    TASKS = {
        "default": {
            "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        }
    }

# SMTP connections each delivery worker sends its batch over (see the README).
MESSAGING_CONNECTIONS_PER_WORKER = int(os.environ.get("MESSAGING_CONNECTIONS_PER_WORKER", "1"))

# Users sign in to their notification preferences (/messaging/preferences/) through
# Wagtail's front-end login, in the site's frame (templates/login.html); the admin's login
# lets only staff in.
LOGIN_URL = "wagtailcore_login"
WAGTAIL_FRONTEND_LOGIN_TEMPLATE = "login.html"
# Avatars are Wagtail's default picture: the demo runs offline, and Gravatar would learn a
# hash of every address the admin lists.
WAGTAIL_GRAVATAR_PROVIDER_URL = None

# Mandatory types always go out at once; users choose immediate, daily or off for the
# optional ones at /messaging/preferences/.
MESSAGING_CONTEXT_TYPES = [
    ("other", _("Other")),
    ("deadline_moved", _("Deadline moved")),
    {"value": "comment_added", "label": _("New comment"), "optional": True},
    ("feedback_published", _("Feedback published")),
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"messaging": {"handlers": ["console"], "level": "INFO"}},
}

# Variables each context type offers to editors, with the sample values the preview uses.
MESSAGING_CONTEXT_VARIABLES = {
    "other": {"url": "https://assignments.example.org/"},
    "deadline_moved": {
        "assignment": "Assignment 3",
        "course": "INF1000",
        "deadline": "12 Dec 2026 23:59",
        "url": "https://assignments.example.org/assignment/3/",
    },
    "comment_added": {
        "author": "Leslie Knope",
        "assignment": "Assignment 3",
        "comment": "Good work, but read section 2 again.",
        "url": "https://assignments.example.org/assignment/3/feed/",
    },
    "feedback_published": {
        "assignment": "Assignment 2",
        "passed": True,
        "grades": [{"part": "Part A", "grade": "B"}, {"part": "Part B", "grade": "A"}],
    },
}

# django-anymail's webhooks (when installed): the shared secret providers send as HTTP
# basic auth, "user:password".
ANYMAIL = {"WEBHOOK_SECRET": os.environ.get("ANYMAIL_WEBHOOK_SECRET", "demo:demo-webhook-secret")}
