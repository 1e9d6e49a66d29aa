"""WSGI entry point, for WSGI servers; `manage.py serve` runs forum.asgi, which wraps it."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "forum.settings")

application = get_wsgi_application()
