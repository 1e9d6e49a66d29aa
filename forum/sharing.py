"""One rendering of a page for every reader, and each reader's parts put in it.

A thread page is rendered once, as an anonymous reader sees it, and stored
gzipped (forum.caching.stored_page). Anonymous readers get those bytes. A
signed-in reader gets them inflated with what belongs to them spliced in,
without rendering the page again:

- the account links, between `<!--account-->` and `<!--/account-->`;
- messages (after posting, signing in...), at `<!--messages-->`;
- the reply form with their disclosure defaults and a CSRF token, between
  `<!--reply-->` and `<!--/reply-->` (absent from a locked topic's page,
  where every reader sees the same notice);
- an Edit link at each `<!--edit <post> <tag>-->` hole where they may edit:
  staff everywhere, authors on their own replies. The tag is a keyed hash of
  the reply's author, so the shared page names no account ids, and matching
  the reader's own costs no query;
- where they stopped reading: a "new" marker at `<!--new <number>-->` before
  their first unread reply, and their `<!--unread-->` and `<!--watch-->` parts
  (forum.views.threads.reader_parts).

Nothing of a reader may be in the shared page: it is rendered from a copy of
the request with no user, no session and no messages, and it holds no CSRF
token (no form on it posts).
"""

import copy
import hmac
import re
from functools import lru_cache

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import get_messages
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import reverse

from .caching import fragment

# What a reader's kept parts hold where their CSRF token goes: no token is
# ever kept, each request gets its own.
TOKEN = "csrf-token-of-this-request"
# As forum/_post.html leaves it: the reply's id and its author's.
RAW_HOLE = re.compile(r"<!--edit (\d+) (\d+)-->")
# Everything `fill` puts in, found in one pass: `<!--edit <post> <tag>-->`,
# `<!--new <number>-->`, `<!--account-->…<!--/account-->`,
# `<!--reply-->…<!--/reply-->`, `<!--messages-->`, `<!--watch-->`, `<!--unread-->`.
# Bytes: the stored page is filled as it is inflated, never decoded.
PARTS = re.compile(
    rb"<!--(?:edit (?P<post>\d+) (?P<author>[0-9a-f]{16})"
    rb"|new (?P<number>\d+)"
    rb"|(?P<part>account|reply)-->.*?<!--/(?P=part)"
    rb"|(?P<hole>messages|watch|unread))-->",
    re.S,
)
NEW_MARKER = b'<p class="new-marker" id="new"><span>New since you last read</span></p>'


def anonymous_copy(request):
    """The request as a reader with no account sees the page: what the shared
    rendering gets, so nothing of this reader's can reach it."""
    shared = copy.copy(request)
    shared.user = AnonymousUser()
    shared._messages = []  # messages are the reader's: spliced in, never rendered
    shared.session = None
    return shared


@lru_cache(maxsize=4096)
def author_tag(author_id: int) -> str:
    """The opaque name of an author in a shared page's Edit holes."""
    key = f"{settings.SECRET_KEY}:edit-hole".encode()
    return hmac.new(key, str(author_id).encode(), "sha256").hexdigest()[:16]


def seal_holes(html: str) -> str:
    """Turn the pieces' Edit holes into ones that name authors by their tag."""
    return RAW_HOLE.sub(lambda m: f"<!--edit {m[1]} {author_tag(int(m[2]))}-->", html)


def fill(
    request,
    page: bytes,
    *,
    reply_section,
    unread: int = 0,
    holes: dict[bytes, str] | None = None,
    first_new: int | None = None,
) -> bytes:
    """`page`, a shared page's UTF-8 bytes, with this signed-in reader's parts
    in it, in one pass over the page.

    `reply_section()` renders the reply form's place (with `TOKEN` for its
    CSRF token), called only when the page has one. `unread` is the
    header's count of unread notifications; `holes` fill the
    `<!--watch-->` and `<!--unread-->` holes (`TOKEN` for the token too), and
    the "new" marker goes before reply number `first_new`.
    """
    user = request.user
    token = get_token(request)
    # The reader's parts are kept rendered with a stand-in for the token.
    account = (
        fragment(
            ("account", user.pk, user.get_username(), user.is_staff, unread),
            lambda: render_to_string(
                "_account.html",
                {"user": user, "csrf_token": TOKEN, "unread_notifications": unread},
            ),
        )
        .replace(TOKEN, token)
        .encode()
    )
    filled = {
        name: text.replace(TOKEN, token).encode()
        for name, text in (holes or {}).items()
    }
    marker = str(first_new).encode() if first_new else None
    messages = get_messages(request)
    shown = (
        render_to_string("_messages.html", {"messages": messages}).encode()
        if messages
        else b""
    )
    staff, mine = user.is_staff, author_tag(user.pk).encode()

    def part(match) -> bytes:
        if match["number"]:
            return NEW_MARKER if match["number"] == marker else b""
        if match["post"]:  # an Edit link where this reader may edit
            if staff or hmac.compare_digest(match["author"], mine):
                return EDIT_LINK % (edit_url().encode() % match["post"])
            return b""
        if match["part"] == b"account":
            return account
        if match["part"] == b"reply":
            return reply_section().replace(TOKEN, token).encode()
        if match["hole"] == b"messages":
            return shown
        return filled.get(match["hole"], b"")

    return PARTS.sub(part, page)


EDIT_LINK = b'<a class="edit-link" href="%s">Edit</a>'


def edit_url() -> str:
    """The Edit link's address with `%s` for the reply: one reverse() for a
    page of a reader's own replies, which has twenty links."""
    return reverse("post-edit", args=[0]).replace("/0/", "/%s/")
