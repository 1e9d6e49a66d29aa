"""Full-text search over replies: one interface, an engine per database.

The engines are reached through `engine()`, and `reindex()` keeps the index
in step: the services call it inside the transaction of every write that
changes what is searchable (posting, editing, hiding, restoring, redacting),
so a hidden reply's words are gone from the index when the hide commits.

What is indexed, per published reply, is a SearchEntry row: its text as
readers see it (the sanitised HTML's text), its keyword tags, its author's
name, and its facets, tokens for what the reader filters pick (its topic,
authorship, ties and stances), so that a filtered search is answered from
the index alone. A hidden reply has no entry. Both engines read a query as
words only: quotes, operators (AND, OR, NOT, NEAR), `*`, `:`, `^` and
parentheses are never syntax, so no input can make a query fail.

- SQLite: an FTS5 table over the rows (external content, kept by triggers,
  porter stemming), ranked by bm25 with the text weighing most, excerpts
  from snippet().
- PostgreSQL: a stored tsvector in each row (weights: text A, tags and
  author B) and one of its facets, under GIN indexes, ranked by ts_rank,
  excerpts from ts_headline.

A site that outgrows PostgreSQL's search implements `Engine` over OpenSearch
or Meilisearch (the README says how) and returns it from `engine()`.
"""

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import connection
from django.utils.html import escape, strip_tags

from .models import Authorship, Post, PostKeyword, PostStance, PostStatus, SearchEntry
from .models import Ties as TiesClass

# What the engines put around matched words. They are taken out of every
# indexed text, so escaping an excerpt and then turning them into <mark> is
# safe: no reply can forge a mark.
START, STOP = "\x02", "\x03"
QUERY_MAX_LENGTH = 200
# Relevance ranks the newest this many matches of a query: finding and scoring
# every match of a common word costs tens of milliseconds at 100,000 replies
# (PostgreSQL walks the replies newest first, checking each against the
# query), and a forum's reader wants the recent argument first.
RANKED = 1000
# Counts stop here ("more than 1,000"): pages go no further, and counting
# every match of a common word costs PostgreSQL a visit to each.
COUNTED = 1000
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Hit:
    post_id: int
    excerpt: str  # HTML: escaped text with the matched words in <mark>


def facet(kind: str, value) -> str:
    """A filter's token: a letter and a number, one word to either engine's
    tokenizer, kept in a field of its own that no query's words reach."""
    if kind == "authorship":
        return f"a{Authorship.values.index(value)}"
    if kind == "ties":
        return f"x{TiesClass.values.index(value)}"
    return {"topic": "t", "stance": "s"}[kind] + str(int(value))


@dataclass(frozen=True)
class Scope:
    """Which replies a search may find: each group of facets is one filter,
    any of whose tokens will do; every filter must hold. Empty: any reply."""

    groups: tuple[tuple[str, ...], ...] = field(default=())

    @classmethod
    def of(
        cls,
        *,
        topic_id: int | None = None,
        authorships: list[str] | None = None,
        ties: str | None = None,
        stance_ids: list[int] | None = None,
    ) -> "Scope":
        groups = []
        if topic_id is not None:
            groups.append((facet("topic", topic_id),))
        if authorships is not None:
            groups.append(tuple(facet("authorship", a) for a in authorships))
        if ties:
            groups.append((facet("ties", ties),))
        if stance_ids is not None:
            groups.append(tuple(facet("stance", pk) for pk in stance_ids))
        return cls(tuple(groups))


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


Row = tuple[int, str, str, str, str]  # post id, text, tags, author, facets


class Engine:
    """What a search engine does for Standpoint."""

    def put(self, rows: list[Row]) -> None:
        """Index (post id, text, tags, author, facets) rows."""
        raise NotImplementedError

    def drop(self, post_ids: list[int]) -> None:
        SearchEntry.objects.filter(post_id__in=post_ids).delete()

    def clear(self) -> None:
        SearchEntry.objects.all().delete()

    def count(self, terms: list[str], scope: Scope) -> int:
        """How many replies in `scope` match every term, up to COUNTED + 1."""
        raise NotImplementedError

    def page(
        self, terms: list[str], scope: Scope, *, newest: bool, offset: int, limit: int
    ) -> list[Hit]:
        """A page of them, best first (or newest first), each with an excerpt."""
        raise NotImplementedError


class SQLiteEngine(Engine):
    """SearchEntry rows, matched through the FTS5 table `forum_search_fts`
    that triggers keep in step with them (migration 0015)."""

    SCORE = "bm25(forum_search_fts, 4.0, 2.0, 2.0, 0)"

    def put(self, rows):
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO forum_searchentry (post_id, body, tags, author, facets) "
                "VALUES (%s, %s, %s, %s, %s)",
                rows,
            )

    @staticmethod
    def match(terms: list[str], scope: Scope = Scope()) -> str:
        """The MATCH expression: each word quoted (a quote inside doubled), a
        string to FTS5 and never an operator, sought in the text, tags and
        author only; then each filter's facets, sought in the facets only."""
        quoted = " ".join('"' + term.replace('"', '""') + '"' for term in terms)
        expression = f"{{body tags author}} : ({quoted})"
        for group in scope.groups:
            expression += f" AND facets : ({' OR '.join(group)})"
        return expression

    def count(self, terms, scope):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM (SELECT 1 FROM forum_search_fts "
                "WHERE forum_search_fts MATCH %s LIMIT %s)",
                [self.match(terms, scope), COUNTED + 1],
            )
            return cursor.fetchone()[0]

    def page(self, terms, scope, *, newest, offset, limit):
        matches = (
            "FROM forum_search_fts WHERE forum_search_fts MATCH %s ORDER BY rowid DESC"
        )
        if newest:
            sql = f"SELECT rowid {matches} LIMIT %s OFFSET %s"
        else:
            sql = (
                f"SELECT id FROM (SELECT rowid AS id, {self.SCORE} AS score "
                f"{matches} LIMIT {RANKED}) ORDER BY score, id DESC LIMIT %s OFFSET %s"
            )
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.match(terms, scope), limit, offset])
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return []
            marks = ", ".join(["%s"] * len(ids))
            cursor.execute(
                "SELECT rowid, snippet(forum_search_fts, 0, %s, %s, '…', 24) "
                "FROM forum_search_fts WHERE forum_search_fts MATCH %s "
                f"AND rowid IN ({marks})",
                [START, STOP, self.match(terms), *ids],
            )
            excerpts = dict(cursor.fetchall())
        return [Hit(pk, excerpt(excerpts.get(pk, ""))) for pk in ids]


class PostgresEngine(Engine):
    # One configuration throughout, the query's: a tag or a name is stemmed
    # as the words searched for it are.
    DOCUMENT = (
        "setweight(to_tsvector('english', %s), 'A') || "
        "setweight(to_tsvector('english', %s), 'B') || "
        "setweight(to_tsvector('english', %s), 'B')"
    )

    def put(self, rows):
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO forum_searchentry "
                "(post_id, body, tags, author, facets, document, facet_vector) "
                f"VALUES (%s, %s, %s, %s, %s, {self.DOCUMENT}, "
                "to_tsvector('simple', %s))",
                [(*row, row[1], row[2], row[3], row[4]) for row in rows],
            )

    @staticmethod
    def _where(terms, scope) -> tuple[str, list]:
        where = "s.document @@ plainto_tsquery('english', %s)"
        params = [" ".join(terms)]
        if scope.groups:
            where += " AND s.facet_vector @@ to_tsquery('simple', %s)"
            params.append(" & ".join(f"({' | '.join(g)})" for g in scope.groups))
        return where, params

    def count(self, terms, scope):
        where, params = self._where(terms, scope)
        with connection.cursor() as cursor:
            # Counting every match reads every matching row's visibility:
            # enough to know there are more than a reader would page through.
            cursor.execute(
                "SELECT COUNT(*) FROM (SELECT 1 FROM forum_searchentry s "
                f"WHERE {where} LIMIT %s) capped",
                [*params, COUNTED + 1],
            )
            return cursor.fetchone()[0]

    def page(self, terms, scope, *, newest, offset, limit):
        where, params = self._where(terms, scope)
        query = " ".join(terms)
        options = f"StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=12"
        matches = f"FROM forum_searchentry s WHERE {where} ORDER BY s.post_id DESC"
        if newest:
            chosen = f"SELECT s.post_id, 0 AS score {matches} LIMIT %s OFFSET %s"
            params = [*params, limit, offset]
        else:
            # Ranked among the newest matches, from their tsvectors alone; the
            # text is read for the page's rows only, by ts_headline.
            chosen = (
                f"SELECT post_id, ts_rank(document, plainto_tsquery('english', %s)) "
                f"AS score FROM (SELECT s.post_id, s.document {matches} "
                f"LIMIT {RANKED}) newest ORDER BY score DESC, post_id DESC "
                "LIMIT %s OFFSET %s"
            )
            params = [query, *params, limit, offset]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT e.post_id, ts_headline('english', e.body, "
                f"plainto_tsquery('english', %s), %s) FROM ({chosen}) chosen "
                "JOIN forum_searchentry e ON e.post_id = chosen.post_id "
                "ORDER BY chosen.score DESC, chosen.post_id DESC",
                [query, options, *params],
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


def rows_of(posts) -> list[Row]:
    """Index rows for `posts`: four queries, however many."""
    posts = list(
        posts.values_list(
            "pk",
            "topic_id",
            "authorship",
            "paid",
            "conflict",
            "body_html",
            "author__username",
        )
    )
    ids = [p[0] for p in posts]
    tags: dict[int, list[str]] = {}
    keywords = PostKeyword.objects.filter(content_object_id__in=ids)
    for pk, name in keywords.values_list("content_object_id", "tag__name"):
        tags.setdefault(pk, []).append(name)
    stances: dict[int, list[int]] = {}
    links = PostStance.objects.filter(content_object_id__in=ids)
    for pk, stance in links.values_list("content_object_id", "tag_id"):
        stances.setdefault(pk, []).append(stance)
    tied = set(
        Post.conflict_parties.through.objects.filter(post_id__in=ids).values_list(
            "post_id", flat=True
        )
    )
    rows = []
    for pk, topic, authorship, paid, conflict, body_html, author in posts:
        ties = TiesClass.of(paid=paid, conflict=conflict, has_party=pk in tied)
        facets = [
            facet("topic", topic),
            facet("authorship", authorship),
            facet("ties", ties),
            *(facet("stance", s) for s in stances.get(pk, [])),
        ]
        text, keywords_text, name = document(body_html, tags.get(pk, []), author)
        rows.append((pk, text, keywords_text, name, " ".join(facets)))
    return rows


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
