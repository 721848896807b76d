#!/usr/bin/env python
"""DJS command-line entry point (Django's manage.py)."""
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djs_platform.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        from djs_platform.startup import prepare

        prepare()  # private var/ and the dev profile's JWT secret, before Django reads the settings
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A configuration mistake is one clear line for the operator, not a traceback.
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
