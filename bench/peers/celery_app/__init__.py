"""The Celery peer: a tiny standalone Django project (only django-celery-beat), the Celery app with the
benchmark's task, the beat scheduler that sends the scheduled instant, and the bulk loader.

Processes run with ``bench/peers`` on ``PYTHONPATH`` (``celery_app`` is a top-level package) and get their
configuration from the environment: ``PEER_DB_NAME/HOST/PORT/USER/PASSWORD`` (beat, loader),
``PEER_BROKER_URL`` (beat, worker), ``PEER_READY_DIR`` (where ``worker_ready`` / ``beat_init`` leave a file).
"""
