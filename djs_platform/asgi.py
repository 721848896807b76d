import os

from django.core.asgi import get_asgi_application
from djs_platform.startup import prepare

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djs_platform.settings")
prepare()  # before the settings are read (the dev profile's JWT secret, private var/)
application = get_asgi_application()
