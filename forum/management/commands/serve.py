"""Run the site in one command: migrate, seed, collect static files, then serve.

It is the README's quick start and also fine for a small real deployment; larger
ones run the same steps from their own process manager.

The server is granian (its HTTP in Rust) running forum.asgi: every request is
read whole by the event loop before a thread runs Django, so clients that
trickle their bodies cost no worker (forum.serving says why). Beside it runs
one task worker (`manage.py worker`: notifications and mail), restarted if it
dies; both stop when this command is told to stop.
"""

import logging
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

logger = logging.getLogger(__name__)


def server_argv(
    app: str, *, host: str, port: int, workers: int, access_log: bool = True
) -> list[str]:
    """The granian command line for `app`; the benchmark serves its bare view the same way."""
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        # A worker that dies is replaced, as gunicorn's master would.
        "--respawn-failed-workers",
        "--no-ws",
        "--access-log" if access_log else "--no-access-log",
        app,
    ]


class Command(BaseCommand):
    help = "Migrate, seed, collect static files and serve the site with granian."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument(
            "--threads",
            type=int,
            default=int(os.environ.get("SERVE_THREADS", "4")),
            help="Threads running Django in each worker (default 4).",
        )
        parser.add_argument(
            "--no-seed", action="store_true", help="Skip loading seeds/."
        )
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="Run no task worker here (run `manage.py worker` elsewhere).",
        )

    def handle(
        self, *args, host, port, workers, threads, no_seed, no_worker, **options
    ):
        verbosity = options["verbosity"]
        call_command("migrate", interactive=False, verbosity=verbosity)
        if not no_seed:
            # New seed files only: a restart must not undo moderators' edits.
            call_command("seed", only_new=True, verbosity=verbosity)
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(self.style.SUCCESS(f"Serving on http://{host}:{port}/"))
        self.stdout.flush()
        os.environ["SERVE_THREADS"] = str(threads)
        argv = server_argv(
            "forum.asgi:application", host=host, port=port, workers=workers
        )
        if no_worker:
            os.execv(sys.executable, argv)
        sys.exit(supervise(argv, worker_argv()))


def worker_argv() -> list[str]:
    return [sys.executable, str(settings.BASE_DIR / "manage.py"), "worker"]


def supervise(server_argv: list[str], worker_argv: list[str]) -> int:
    """Run the web server and a task worker until the server stops, or this
    process is told to stop (SIGTERM, SIGINT): then both are stopped. A
    worker that dies is started again. Returns the server's exit status.

    Each child is asked to stop once, with SIGTERM: the task worker finishes
    the task it is running on the first, and abandons it on a second. So the
    children run in sessions of their own, where a terminal's Ctrl-C, sent
    to the whole foreground group, reaches this process only.
    """
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def start(name: str, argv: list[str]) -> None:
        children[name] = subprocess.Popen(argv, start_new_session=True)
        if stopping:  # asked to stop while it was starting
            children[name].terminate()

    def stop(signum, frame):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    start("server", server_argv)
    start("worker", worker_argv)
    started, pause = time.monotonic(), 1.0
    while children["server"].poll() is None:
        if not stopping and children["worker"].poll() is not None:
            # A worker that keeps failing at once is restarted less and less
            # often (up to a minute apart), not in a tight loop.
            pause = 1.0 if time.monotonic() - started > 60 else min(pause * 2, 60)
            logger.error(
                "The task worker stopped (exit %s); starting it again in %.0f s",
                children["worker"].returncode,
                pause,
            )
            deadline = time.monotonic() + pause
            while not stopping and time.monotonic() < deadline:
                time.sleep(0.2)
            if not stopping:
                start("worker", worker_argv)
                started = time.monotonic()
        time.sleep(0.2)
    worker = children["worker"]
    if not stopping and worker.poll() is None:  # the server stopped on its own
        worker.terminate()
    try:
        worker.wait(timeout=60)  # the task it runs, finished
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
    return children["server"].returncode
