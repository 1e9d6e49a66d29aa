"""The site for ASGI servers: whole requests, then Django in a pool of threads.

`manage.py serve` runs this under granian; see forum.serving for why.
"""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from .serving import BufferedWSGI

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "forum.settings")

django = get_wsgi_application()
sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
application = BufferedWSGI(
    django,
    threads=int(os.environ.get("SERVE_THREADS", "4")),
    # SQLite takes one writer at a time: more would only wait on its lock.
    writers=1 if sqlite else None,
    max_body=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
)
