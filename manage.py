#!/usr/bin/env python
"""Django's command-line utility for Standpoint."""

import os
import secrets
import sys
from pathlib import Path


def local_secret_key() -> str:
    """Return this checkout's persistent secret key, creating it on first use.

    Commands run from a checkout (`serve`, `check`, `migrate`...) use it when
    SECRET_KEY is unset, so the quick start runs with DEBUG off and nobody
    invents a key. The WSGI application, as a server loads it, gets no such
    fallback: a deployment without SECRET_KEY refuses to start.
    """
    path = Path(__file__).resolve().parent / "var" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "forum.settings")
    if not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = local_secret_key()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
