"""Run the site in one command: migrate, seed, collect static files, then gunicorn.

It is the README's quick start and also fine for a small real deployment; larger
ones run the same steps from their own process manager.
"""

import os
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate, seed, collect static files and serve the site with gunicorn."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument(
            "--no-seed", action="store_true", help="Skip loading seeds/."
        )

    def handle(self, *args, host, port, workers, no_seed, verbosity, **options):
        call_command("migrate", interactive=False, verbosity=verbosity)
        if not no_seed:
            # New seed files only: a restart must not undo moderators' edits.
            call_command("seed", only_new=True, verbosity=verbosity)
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(self.style.SUCCESS(f"Serving on http://{host}:{port}/"))
        self.stdout.flush()
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "forum.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--access-logfile",
            "-",
            "--forwarded-allow-ips",
            "127.0.0.1",
        ]
        os.execv(sys.executable, argv)
