"""The site as an ASGI application that hands whole requests to Django's WSGI side.

Why: a WSGI server gives each request a thread (or process) from its first
byte, so a client that sends its body one byte a second holds that thread;
fifty of them stall every worker. Here the ASGI server's event loop reads
each request completely first, bounded in size and time, while a slow client
costs no thread; only then does the request go to a fixed pool of threads
running Django. The threads are long-lived, so each keeps its database
connection. Responses are collected in the thread and sent back whole (pages,
JSON and the site's own static files are small).
"""

import asyncio
import io
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class BufferedWSGI:
    """Serve a WSGI app to an ASGI server once each request's body is in.

    `max_body` bytes at most (a larger body answers 413), read within
    `body_seconds` (a slower one answers 408); `threads` run the app.
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        threads: int = 4,
        writers: int | None = None,
        max_body: int = 2_621_440,
        body_seconds: float = 30.0,
    ):
        self.app, self.max_body, self.body_seconds = app, max_body, body_seconds
        self.threads, self.writers = threads, writers or threads
        self.pool: ThreadPoolExecutor | None = None
        self.writing: asyncio.Semaphore | None = None

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    self.pool.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict, receive, send) -> None:
        try:
            body = await asyncio.wait_for(
                self._read_body(scope, receive), self.body_seconds
            )
        except TimeoutError:
            await _plain(send, 408, "The request body did not arrive in time.")
            return
        except BodyTooLarge:
            await _plain(send, 413, "The request is too large.")
            return
        if body is None:  # the client went away
            return
        if self.pool is None:
            self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="wsgi")
            self.writing = asyncio.Semaphore(self.writers)
        environ = wsgi_environ(scope, body)
        loop = asyncio.get_running_loop()
        if scope["method"] in SAFE_METHODS:
            status, headers, content = await loop.run_in_executor(
                self.pool, run_wsgi, self.app, environ
            )
        else:
            # Requests that may write wait here, holding no thread, while
            # `writers` of them run: on SQLite, one writer at a time anyway.
            async with self.writing:
                status, headers, content = await loop.run_in_executor(
                    self.pool, run_wsgi, self.app, environ
                )
        await send(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": content})

    async def _read_body(self, scope: dict, receive) -> bytes | None:
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body:
            raise BodyTooLarge
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > self.max_body:
                raise BodyTooLarge
            if not message.get("more_body"):
                return bytes(body)


class BodyTooLarge(Exception):
    pass


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _plain(send, status: int, text: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": text.encode()})


def wsgi_environ(scope: dict, body: bytes) -> dict:
    """The WSGI environ (PEP 3333) for an ASGI HTTP scope and its whole body."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    # PEP 3333: the path is the decoded URL's bytes read as latin-1.
    path = scope["path"].encode("utf-8").decode("latin-1")
    root = scope.get("root_path", "").encode("utf-8").decode("latin-1")
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root,
        "PATH_INFO": path[len(root) :] if root and path.startswith(root) else path,
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "REMOTE_ADDR": client[0] or "",
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_LENGTH":
            continue  # the body is whole: its length is what arrived
        key = name if name == "CONTENT_TYPE" else f"HTTP_{name}"
        if key in environ:
            joiner = "; " if key == "HTTP_COOKIE" else ","
            value = f"{environ[key]}{joiner}{value}"
        environ[key] = value
    return environ


def run_wsgi(app: WSGIApp, environ: dict) -> tuple[int, list, bytes]:
    """Call the app in a worker thread; its status, headers and whole body."""
    started: dict = {}

    def start_response(status: str, headers: list, exc_info=None):
        if exc_info and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started["status"], started["headers"] = status, headers
        return lambda data: chunks.append(data)

    chunks: list[bytes] = []
    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in started["headers"]
    ]
    return int(started["status"].split(" ", 1)[0]), headers, b"".join(chunks)
