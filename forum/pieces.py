"""Each reply's ready piece: rendered once per version, stored, joined into pages.

Rendering a reply (its body, disclosure strip, stances, tags and links) costs
about a millisecond of templates and four prefetching queries, so a thread page
that no cache has seen (any depth, any filter, the first after a new reply)
would pay it twenty times. Instead a reply's HTML and JSON-LD record are stored
beside it in a `ReplyPiece`, with a `version` digesting everything the piece
shows: the reply's row (an edit, a review, hiding, restoring, a relabel all
change it), its author's name (and, for an agent, its operator's), its topic's parts (stance names, parties, the
article's passages, the lock) and the templates that render it. A piece is
never invalidated: a page that reads one whose version no longer matches
renders it again and stores the new one.

Staff see hidden replies' text, so their pieces differ; they are few, and
theirs are kept in the page cache instead.
"""

import logging
from dataclasses import dataclass
from functools import cache

from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.template.loader import get_template

from . import history, records
from .caching import cache_get_many, cache_set_many, digest
from .models import Agent, Post, ReplyPiece, Topic

logger = logging.getLogger(__name__)

TEMPLATE = "forum/_post.html"
# Bump when records.comment_text or this module change what a piece holds.
FORMAT = 11

Piece = tuple[str, str]  # (HTML, JSON-LD record as text, "" when hidden)


@dataclass(frozen=True)
class Reader:
    """What a shared piece may know of its reader: staff or not."""

    is_staff: bool
    pk = None


PK = [field.attname for field in Post._meta.concrete_fields].index(
    Post._meta.pk.attname
)


def reply_pieces(topic: Topic, ids: list[int], *, staff: bool) -> list[Piece]:
    """The pieces of the replies `ids`, in that order.

    One query reads each reply's row (as plain values: building twenty model
    instances would cost more than the rest of the page) with its stored
    piece. Ready pieces cost nothing more; the others are loaded, rendered and
    stored (for staff, cached), so the next page that shows them finds them.
    """
    parts = topic_parts(topic)
    versions, found = {}, {}
    for *row, author, operator, version, html, record in rows_with_pieces(ids):
        pk = row[PK]
        versions[pk] = digest(*row, author, operator, parts, staff, templates())
        if not staff and version == versions[pk]:
            found[pk] = (html, record)
    if staff:
        keys = {pk: f"reply:{version}" for pk, version in versions.items()}
        cached = cache_get_many("default", list(keys.values()))
        found = {pk: cached[key] for pk, key in keys.items() if key in cached}
    missing = [pk for pk in versions if pk not in found]
    if missing:
        made = render(topic, missing, staff=staff)
        if staff:
            cache_set_many("default", {keys[pk]: made[pk] for pk in made})
        else:
            store(made, versions)
        found.update(made)
    return [found[pk] for pk in ids if pk in found]


def rows_with_pieces(ids: list[int]) -> list[tuple]:
    """Each reply's row (its columns as the database gives them), its author's
    name, the name of the person who runs its author if an agent, and its
    stored piece, in one plain query: the ORM spent longer building this
    query than the database running it."""
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_rows_sql(connection.vendor, len(ids)), ids)
        return cursor.fetchall()


@cache
def _rows_sql(vendor: str, n: int) -> str:
    quote = connection.ops.quote_name
    user = get_user_model()
    columns = ", ".join(f"p.{quote(f.column)}" for f in Post._meta.concrete_fields)
    name = quote(user._meta.get_field(user.USERNAME_FIELD).column)
    users, pk = quote(user._meta.db_table), quote(user._meta.pk.column)
    return (
        f"SELECT {columns}, u.{name}, o.{name}, r.version, r.html, r.record "
        f"FROM {quote(Post._meta.db_table)} p "
        f"JOIN {users} u ON u.{pk} = p.author_id "
        f"LEFT JOIN {quote(Agent._meta.db_table)} a ON a.account_id = p.author_id "
        f"LEFT JOIN {users} o ON o.{pk} = a.operator_id "
        f"LEFT JOIN {quote(ReplyPiece._meta.db_table)} r ON r.post_id = p.id "
        f"WHERE p.id IN ({', '.join(['%s'] * n)})"
    )


def render(topic: Topic, ids: list[int], *, staff: bool) -> dict[int, Piece]:
    posts = list(
        topic.posts.filter(pk__in=ids)  # each post's topic is this one, loaded
        .select_related("author__agent__operator")
        .prefetch_related("stances", "tags", "conflict_parties")
    )
    history.attach_trails(posts)
    template = get_template(TEMPLATE)
    reader = Reader(staff)
    return {
        post.pk: (
            template.render({"post": post, "topic": topic, "user": reader}),
            records.comment_text(post),
        )
        for post in posts
    }


def store(made: dict[int, Piece], versions: dict[int, str]) -> None:
    """Keep new pieces, in one statement; a piece that cannot be stored now
    (the database busy, the reply just deleted) is rendered again next time."""
    pieces = [
        ReplyPiece(post_id=pk, version=versions[pk], html=html, record=record)
        for pk, (html, record) in made.items()
    ]
    try:
        with transaction.atomic():
            ReplyPiece.objects.bulk_create(
                pieces,
                update_conflicts=True,
                unique_fields=["post"],
                update_fields=["version", "html", "record"],
            )
    except DatabaseError as exc:
        logger.warning("%d reply pieces not stored: %s", len(pieces), exc)


def topic_parts(topic: Topic) -> str:
    """What a reply's piece shows of its topic; changes with a moderator's edit.

    The topic's positions and parties must be loaded (Topic.thread_prefetch).
    """
    positions = [(p.pk, p.slug, p.claim) for p in topic.positions.all()]
    parties = [(p.pk, p.name, p.aliases) for p in topic.parties.all()]
    return digest(topic.slug, topic.is_locked, topic.body, positions, parties)


@cache
def templates() -> str:
    """The source of what renders a piece, so a new release renders pieces anew."""
    sources = [
        get_template(name).template.source
        for name in (TEMPLATE, "forum/_disclosure.html", "forum/_byline.html")
    ]
    return digest(FORMAT, *sources)
