"""Run the background tasks (forum/tasks.py) and send the digests that are due.

`manage.py serve` starts one beside the web workers; a bigger site runs more
(each claims its own tasks from the database queue) or moves the queue to
another backend (README, Notifications).
"""

import logging
import os
import threading
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection
from django_tasks import task_backends
from django_tasks_db.backend import DatabaseBackend

from ...services import notifications

logger = logging.getLogger(__name__)
# Finished task results are kept this long, for a look at what ran.
KEEP_RESULTS_DAYS = 7


class Command(BaseCommand):
    help = "Run background tasks (notifications, mail) and send due digests."

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="Seconds between looks at an empty queue (default 1).",
        )
        parser.add_argument(
            "--batch",
            action="store_true",
            help="Send due digests, run every queued task, then exit.",
        )

    def handle(self, *args, interval, batch, **options):
        verbosity = options["verbosity"]
        if not batch and settings.STANDPOINT_WORKER_NICE:
            # Background work yields the CPU to the web workers' requests.
            os.nice(settings.STANDPOINT_WORKER_NICE)
        if batch:
            self.digests()
        else:
            threading.Thread(target=self.clock, daemon=True, name="digests").start()
        if not isinstance(task_backends["default"], DatabaseBackend):
            # The queue is in Redis (TASKS_URL): RQ's worker, with the job
            # class that reports to Django's tasks API.
            call_command(
                "rqworker",
                "default",
                job_class="django_tasks_rq.Job",
                burst=batch,
                verbosity=verbosity,
            )
            return
        call_command(
            "db_worker",
            interval=interval,
            batch=batch,
            reload=False,
            startup_delay=not batch,
            verbosity=verbosity,
        )

    def clock(self) -> None:
        """Every DIGEST_CHECK_SECONDS: the digests that are due, and, hourly,
        old task results pruned. Beside the worker's loop, on its own
        connection; a failure is logged and tried again next time."""
        pruned = time.monotonic()
        while True:
            time.sleep(settings.STANDPOINT_DIGEST_CHECK_SECONDS)
            close_old_connections()
            try:
                self.digests()
            finally:
                connection.close()  # this thread's own: idle until the next check
            in_database = isinstance(task_backends["default"], DatabaseBackend)
            if in_database and time.monotonic() - pruned >= 3600:
                pruned = time.monotonic()
                try:
                    call_command(
                        "prune_db_task_results",
                        min_age_days=KEEP_RESULTS_DAYS,
                        queue_name="*",
                        verbosity=0,
                    )
                except Exception:
                    logger.exception("Pruning old task results failed")

    def digests(self) -> None:
        try:
            # Mail a stopped worker claimed and never sent goes back first.
            notifications.mailings_recover()
            sent = notifications.digests_send()
            if sent:
                logger.info("Sent %d digest(s)", sent)
        except Exception:
            logger.exception("Sending digests failed; trying again at the next check")
