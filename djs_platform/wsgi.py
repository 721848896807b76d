import os

from django.core.wsgi import get_wsgi_application
from djs_platform.startup import prepare

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djs_platform.settings")
prepare()  # before the settings are read (the dev profile's JWT secret, private var/)

from djs_platform.tracing import setup_tracing  # noqa: E402

setup_tracing("web")  # before the application loads its middleware (tracing.exporter, default none)
application = get_wsgi_application()
