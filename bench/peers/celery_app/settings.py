"""Standalone Django settings for django-celery-beat's ``DatabaseScheduler`` (NOT the DJS settings).

Only what django-celery-beat needs: its app, a MySQL/MariaDB database from ``PEER_DB_*``, UTC with aware
datetimes (django-celery-beat's default ``DJANGO_CELERY_BEAT_TZ_AWARE=True``).

``CONN_MAX_AGE = None`` (persistent connection): beat is a long-running daemon that calls
``close_old_connections()`` on every tick; with Django's default of 0 it would reconnect to MariaDB on every
single due task. A persistent connection is what one configures for such a process, and it gives beat its
best case.
"""
import os

SECRET_KEY = "djs-bench-celery-peer-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = ["django_celery_beat"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.mysql",
        "NAME": os.environ.get("PEER_DB_NAME", "celery_beat"),
        "HOST": os.environ.get("PEER_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("PEER_DB_PORT", "3306"),
        "USER": os.environ.get("PEER_DB_USER", ""),
        "PASSWORD": os.environ.get("PEER_DB_PASSWORD", ""),
        "CONN_MAX_AGE": None,
        "OPTIONS": {"charset": "utf8mb4"},
    }
}
LOGGING_CONFIG = None
