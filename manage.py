#!/usr/bin/env python
"""Django's command-line utility for Standpoint."""

import os
import secrets
import sys
from pathlib import Path


def local_secret_key() -> str:
    """Return this checkout's persistent secret key, creating it on first use.

    Only `serve` uses it, so the one-command quick start runs with DEBUG off
    without anyone inventing a key; deployments set SECRET_KEY themselves.
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
    if sys.argv[1:2] == ["serve"] and not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = local_secret_key()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
