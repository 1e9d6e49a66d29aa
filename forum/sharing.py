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
  the reader's own costs no query.

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
# `<!--account-->…<!--/account-->`, `<!--reply-->…<!--/reply-->`, `<!--messages-->`.
PARTS = re.compile(
    r"<!--(?:edit (?P<post>\d+) (?P<author>[0-9a-f]{16})"
    r"|(?P<part>account|reply)-->.*?<!--/(?P=part)"
    r"|messages)-->",
    re.S,
)


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


def fill(request, html: str, *, reply_section) -> str:
    """`html`, a shared page, with this signed-in reader's parts in it, in
    one pass over the page.

    `reply_section()` renders the reply form's place (with `TOKEN` for its
    CSRF token), called only when the page has one.
    """
    user = request.user
    token = get_token(request)
    # The reader's parts are kept rendered with a stand-in for the token.
    account = fragment(
        ("account", user.pk, user.get_username(), user.is_staff),
        lambda: render_to_string("_account.html", {"user": user, "csrf_token": TOKEN}),
    ).replace(TOKEN, token)
    messages = get_messages(request)
    shown = (
        render_to_string("_messages.html", {"messages": messages}) if messages else ""
    )
    # One reverse() for all: a page of a reader's own replies has twenty links.
    url = reverse("post-edit", args=[0]).replace("/0/", "/{}/")
    staff, mine = user.is_staff, author_tag(user.pk)

    def part(match) -> str:
        if match["post"]:  # an Edit link where this reader may edit
            if staff or hmac.compare_digest(match["author"], mine):
                return (
                    f'<a class="edit-link" href="{url.format(match["post"])}">Edit</a>'
                )
            return ""
        if match["part"] == "account":
            return account
        if match["part"] == "reply":
            return reply_section().replace(TOKEN, token)
        return shown

    return PARTS.sub(part, html)
