"""Full-text search over replies: one interface, an engine per database.

`find()` is the way in, and `reindex()` keeps the index in step: the services
call it inside the transaction of every write that changes what is
searchable (posting, editing, hiding, restoring, redacting), so a hidden
reply's words are gone from the index when the hide commits.

What is indexed, per published reply: its text as readers see it (the
sanitised HTML's text), its keyword tags and its author's name; a hidden
reply has no entry at all. Both engines read a query as words only: quotes,
operators (AND, OR, NOT, NEAR), `*`, `:`, `^` and parentheses are never
syntax, so no input can make a query fail.

Each reply's entry is a SearchEntry row; the engines search them:

- SQLite: an FTS5 table over the rows (external content, kept by triggers),
  ranked by bm25 with the text weighing most, excerpts from snippet().
- PostgreSQL: a stored tsvector in each row (weights: text A, tags and author
  B) under a GIN index, ranked by ts_rank_cd, excerpts from ts_headline.

A site that outgrows PostgreSQL's search implements `Engine` over OpenSearch
or Meilisearch (the README says how) and names it in SEARCH_ENGINE.
"""

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import connection
from django.utils.html import escape, strip_tags

from .models import Post, PostKeyword, PostStatus, SearchEntry

# What the engines put around matched words. They are taken out of every
# indexed text, so escaping an excerpt and then turning them into <mark> is
# safe: no reply can forge a mark.
START, STOP = "\x02", "\x03"
QUERY_MAX_LENGTH = 200
# Relevance ranks the newest this many matches of a query: scoring every
# match of a word in nearly every reply would cost a tenth of a second at
# 100,000 replies, and a forum's reader wants the recent argument first.
RANKED = 5000
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Hit:
    post_id: int
    excerpt: str  # HTML: escaped text with the matched words in <mark>


@dataclass(frozen=True)
class Scope:
    """Which replies a search may find: a topic, authorship values, and an SQL
    subquery of reply ids (with its parameters) for the filters that need the
    replies' links (stance, ties). None: any."""

    topic_id: int | None = None
    authorships: list[str] | None = None
    within: tuple[str, tuple] | None = None

    def where(self, id_column: str) -> tuple[str, list]:
        sql, params = "", []
        if self.topic_id is not None:
            sql += " AND topic_id = %s"
            params.append(self.topic_id)
        if self.authorships is not None:
            marks = ", ".join(["%s"] * len(self.authorships)) or "NULL"
            sql += f" AND authorship IN ({marks})"
            params += self.authorships
        if self.within is not None:
            sql += f" AND {id_column} IN ({self.within[0]})"
            params += list(self.within[1])
        return sql, params


def words(query: str) -> list[str]:
    """The query's words, and nothing else: every other character is a separator."""
    return WORD.findall(query.replace("\x00", " "))[:32]


def document(body_html: str, tags: Iterable[str], author: str) -> tuple[str, str, str]:
    """What is indexed for a reply: its visible text, its tags, its author."""
    text = html.unescape(strip_tags(body_html))
    text = text.replace(START, " ").replace(STOP, " ").replace("\x00", " ")
    return " ".join(text.split()), " ".join(tags), author


def excerpt(marked: str) -> str:
    """An engine's excerpt as HTML: escaped, its marks made <mark>."""
    text = escape(" ".join(marked.split()))
    return text.replace(START, "<mark>").replace(STOP, "</mark>")


class Engine:
    """What a search engine does for Standpoint."""

    def put(self, rows: list[tuple[int, int, str, str, str, str]]) -> None:
        """Index (post id, topic id, authorship, text, tags, author) rows."""
        raise NotImplementedError

    def drop(self, post_ids: list[int]) -> None:
        SearchEntry.objects.filter(post_id__in=post_ids).delete()

    def clear(self) -> None:
        SearchEntry.objects.all().delete()

    def count(self, terms: list[str], scope: "Scope") -> int:
        """How many replies in `scope` match every term."""
        raise NotImplementedError

    def page(
        self, terms: list[str], scope: "Scope", *, newest: bool, offset: int, limit: int
    ) -> list[Hit]:
        """A page of them, best first (or newest first), each with an excerpt."""
        raise NotImplementedError


class SQLiteEngine(Engine):
    """SearchEntry rows, matched through the FTS5 table `forum_search_fts`
    that triggers keep in step with them (migration 0015)."""

    def put(self, rows):
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO forum_searchentry "
                "(post_id, topic_id, authorship, body, tags, author) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                rows,
            )

    SCORE = "bm25(forum_search_fts, 0, 0, 4.0, 2.0, 2.0)"

    @staticmethod
    def match(terms: list[str]) -> str:
        """Each word quoted (a quote inside doubled): a string to FTS5, never an
        operator or a column filter."""
        return " ".join('"' + term.replace('"', '""') + '"' for term in terms)

    def _where(self, terms, scope) -> tuple[str, list]:
        # `+rowid`: a filter on the full-text match's rows, never a list of
        # rows to probe the index with one by one (SQLite would, for a
        # stance's few thousand replies, at a hundred times the cost).
        narrow, params = scope.where("+rowid")
        return "forum_search_fts MATCH %s" + narrow, [self.match(terms), *params]

    def count(self, terms, scope):
        where, params = self._where(terms, scope)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) FROM forum_search_fts WHERE {where}", params
            )
            return cursor.fetchone()[0]

    def page(self, terms, scope, *, newest, offset, limit):
        where, params = self._where(terms, scope)
        newest_first = f"FROM forum_search_fts WHERE {where} ORDER BY rowid DESC"
        if newest:
            sql = f"SELECT rowid {newest_first} LIMIT %s OFFSET %s"
        else:
            sql = (
                f"SELECT id FROM (SELECT rowid AS id, {self.SCORE} AS score "
                f"{newest_first} LIMIT {RANKED}) ORDER BY score, id DESC "
                "LIMIT %s OFFSET %s"
            )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, limit, offset])
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return []
            marks = ", ".join(["%s"] * len(ids))
            cursor.execute(
                "SELECT rowid, snippet(forum_search_fts, 2, %s, %s, '…', 24) "
                "FROM forum_search_fts WHERE forum_search_fts MATCH %s "
                f"AND rowid IN ({marks})",
                [START, STOP, self.match(terms), *ids],
            )
            excerpts = dict(cursor.fetchall())
        return [Hit(pk, excerpt(excerpts.get(pk, ""))) for pk in ids]


class PostgresEngine(Engine):
    DOCUMENT = (
        # One configuration throughout, the query's: a tag or a name is
        # stemmed as the words searched for it are.
        "setweight(to_tsvector('english', %s), 'A') || "
        "setweight(to_tsvector('english', %s), 'B') || "
        "setweight(to_tsvector('english', %s), 'B')"
    )

    def put(self, rows):
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO forum_searchentry "
                "(post_id, topic_id, authorship, body, tags, author, document) "
                f"VALUES (%s, %s, %s, %s, %s, %s, {self.DOCUMENT})",
                [(*row, row[3], row[4], row[5]) for row in rows],
            )

    def _where(self, terms, scope) -> tuple[str, list]:
        narrow, params = scope.where("s.post_id")
        where = "s.document @@ plainto_tsquery('english', %s)" + narrow
        return where, [" ".join(terms), *params]

    def count(self, terms, scope):
        where, params = self._where(terms, scope)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) FROM forum_searchentry s WHERE {where}", params
            )
            return cursor.fetchone()[0]

    def page(self, terms, scope, *, newest, offset, limit):
        where, params = self._where(terms, scope)
        query = " ".join(terms)
        options = f"StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=12"
        matches = f"FROM forum_searchentry s WHERE {where} ORDER BY s.post_id DESC"
        if newest:
            rows, order = f"SELECT s.post_id, s.body {matches}", "post_id DESC"
        else:
            rows = (
                "SELECT post_id, body, ts_rank_cd(document, "
                f"plainto_tsquery('english', %s)) AS score FROM (SELECT s.post_id, "
                f"s.body, s.document {matches} LIMIT {RANKED}) newest"
            )
            order = "score DESC, post_id DESC"
            params = [query, *params]
        with connection.cursor() as cursor:
            # Excerpts for the page's rows only: ts_headline reads the text.
            cursor.execute(
                "SELECT post_id, ts_headline('english', body, "
                "plainto_tsquery('english', %s), %s) FROM ("
                f"SELECT * FROM ({rows}) ranked ORDER BY {order} "
                f"LIMIT %s OFFSET %s) page ORDER BY {order}",
                [query, options, *params, limit, offset],
            )
            return [Hit(pk, excerpt(text)) for pk, text in cursor.fetchall()]


def engine() -> Engine:
    return PostgresEngine() if connection.vendor == "postgresql" else SQLiteEngine()


def reindex(post_ids: Iterable[int]) -> None:
    """Bring these replies' entries in step with them: published ones indexed
    as they now are, hidden ones (and deleted ones) gone. Inside the writing
    transaction, so the index never shows what a committed write removed."""
    ids = list(post_ids)
    if not ids:
        return
    found = engine()
    found.drop(ids)
    found.put(rows_of(Post.objects.filter(pk__in=ids, status=PostStatus.PUBLISHED)))


def rows_of(posts) -> list[tuple[int, int, str, str, str, str]]:
    """Index rows for `posts`: two queries, however many."""
    posts = list(
        posts.values_list(
            "pk", "topic_id", "authorship", "body_html", "author__username"
        )
    )
    tags: dict[int, list[str]] = {}
    keywords = PostKeyword.objects.filter(content_object_id__in=[p[0] for p in posts])
    for pk, name in keywords.values_list("content_object_id", "tag__name"):
        tags.setdefault(pk, []).append(name)
    return [
        (pk, topic, authorship, *document(body_html, tags.get(pk, []), author))
        for pk, topic, authorship, body_html, author in posts
    ]


def rebuild(
    progress: Callable[[int, int], None] | None = None, batch: int = 1000
) -> int:
    """Index every published reply afresh; `progress(done, total)` after each batch."""
    found = engine()
    found.clear()
    ids = list(
        Post.objects.filter(status=PostStatus.PUBLISHED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(ids), batch):
        found.put(rows_of(Post.objects.filter(pk__in=ids[start : start + batch])))
        if progress:
            progress(min(start + batch, len(ids)), len(ids))
    return len(ids)
