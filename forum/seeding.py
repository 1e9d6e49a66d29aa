"""Parse an article seed file (TOML) into plain data; no database access here.

The article text is checked against its SHA-256, so what readers see is what
the source said. Each line of it becomes a markdown paragraph; an article with
markdown characters (`*`, `_`, a leading `#` or `1.`) would be read as markdown.
"""

import datetime
import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .models import DISCLOSURE_TEXT_FIELDS, Party, Position
from .text import BIDI_CONTROLS

SLUG_RE = re.compile(r"^[-a-z0-9]+$")


@dataclass(frozen=True)
class PartyData:
    slug: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class PositionData:
    slug: str
    claim: str
    summary: str
    quote: str


@dataclass(frozen=True)
class ArticleData:
    """What a seed file says, checked for shape; services.topic_create_from_article writes it."""

    slug: str
    title: str
    lede: str
    body: str
    source_publication: str
    source_url: str
    source_date: datetime.date | None
    disclosure: dict[str, str]  # the text answers; parties by slug below
    disclosure_statement: str
    conflict_party_slugs: tuple[str, ...]
    parties: tuple[PartyData, ...]
    positions: tuple[PositionData, ...]


class SeedError(ValueError):
    """A seed file is wrong; `line` points at the place to fix (1-based, or None)."""

    def __init__(self, path: Path, message: str, line: int | None = None):
        self.path, self.line = path, line
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


def article_paragraphs_to_markdown(text: str) -> str:
    """Turn a plain-text article (one paragraph a line) into markdown paragraphs."""
    return "\n\n".join(line.strip() for line in text.splitlines() if line.strip())


def parse_article(path: Path) -> ArticleData:
    raw = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        raise SeedError(path, f"not valid TOML: {exc}", line) from exc
    return _Reader(path, raw, data).article()


def _line_from_message(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


class _Reader:
    """Pull typed values out of parsed TOML, blaming the line where each key sits."""

    def __init__(self, path: Path, raw: str, data: dict):
        self.path, self.raw, self.data = path, raw, data

    def fail(self, message: str, near: str | None = None) -> SeedError:
        return SeedError(self.path, message, self.line_of(near) if near else None)

    def line_of(self, needle: str) -> int | None:
        index = self.raw.find(needle)
        return self.raw.count("\n", 0, index) + 1 if index >= 0 else None

    def text(
        self,
        table: dict,
        key: str,
        where: str,
        *,
        required: bool = True,
        model: type | None = None,
    ) -> str:
        """The string at `key`; with `model`, no longer than its field of that name.

        SQLite would store an over-long value that PostgreSQL refuses mid-seed.
        """
        value = table.get(key, "")
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key} must be a string", f"{key} =")
        if required and not value.strip():
            slug = table.get("slug")
            named = key != "slug" and isinstance(slug, str) and slug
            near = f'slug = "{slug}"' if named else (f"[{where}]" if where else None)
            raise self.fail(f"{where}.{key} is required", near)
        if "\x00" in value:
            raise self.fail(f"{where}.{key} contains a NUL character", f"{key} =")
        self.refuse_bidi(value, f"{where}.{key}")
        limit = model._meta.get_field(key).max_length if model else None
        if limit and len(value.strip()) > limit:
            raise self.fail(
                f"{where}.{key} may be at most {limit} characters long "
                f"(it has {len(value.strip())})",
                value.strip()[:40],
            )
        return value.strip() if key != "text" else value

    def refuse_bidi(self, value: str, name: str) -> None:
        """No direction controls anywhere: shown, they reorder the words around them."""
        control = next((char for char in value if char in BIDI_CONTROLS), None)
        if control is None:
            return
        # The line holding it, typed or as a TOML escape (\u202E, \U0000202E).
        code = ord(control)
        found = re.search(
            rf"{re.escape(control)}|\\u{code:04x}|\\U{code:08x}", self.raw, re.I
        )
        raise SeedError(
            self.path,
            f"{name} contains an invisible direction-control character "
            f"(U+{code:04X}); remove it",
            self.raw.count("\n", 0, found.start()) + 1 if found else None,
        )

    def table(self, key: str) -> dict:
        value = self.data.get(key)
        if not isinstance(value, dict):
            raise self.fail(f"missing table [{key}]")
        return value

    def slug(self, table: dict, where: str, *, model: type | None = None) -> str:
        value = self.text(table, "slug", where, model=model)
        if not SLUG_RE.match(value):
            raise self.fail(
                f"{where}.slug {value!r} may hold only lowercase letters, digits and "
                "hyphens",
                f'"{value}"',
            )
        return value

    def article(self) -> ArticleData:
        article, source, disclosure = (
            self.table("article"),
            self.table("source"),
            self.table("disclosure"),
        )
        text = self.text(article, "text", "article").lstrip("\n")
        expected = article.get("text_sha256")
        if expected and hashlib.sha256(text.encode()).hexdigest() != expected:
            raise self.fail(
                "article.text does not match text_sha256: the article was altered",
                "text_sha256 =",
            )
        parties = self.parties()
        return ArticleData(
            slug=self.slug(self.data, ""),
            title=self.text(self.data, "title", ""),
            lede=self.text(self.data, "lede", "", required=False),
            body=article_paragraphs_to_markdown(text),
            source_publication=self.text(source, "publication", "source"),
            source_url=self.text(source, "url", "source", required=False),
            source_date=self.date(source),
            disclosure={
                key: self.text(disclosure, key, "disclosure", required=False)
                for key in DISCLOSURE_TEXT_FIELDS
            },
            disclosure_statement=self.quote(
                self.text(disclosure, "statement", "disclosure", required=False), text
            ),
            conflict_party_slugs=self.conflict_parties(disclosure, parties),
            parties=parties,
            positions=self.positions(text),
        )

    def date(self, source: dict) -> datetime.date | None:
        value = source.get("date")
        if value is None or isinstance(value, datetime.date):
            return value
        raise self.fail("source.date must be a TOML date like 2026-11-03", "date =")

    def quote(self, quote: str, text: str) -> str:
        if quote and " ".join(quote.split()) not in " ".join(text.split()):
            raise self.fail(
                "this quote is not in the article text word for word", quote[:40]
            )
        return quote

    def conflict_parties(self, disclosure: dict, parties) -> tuple[str, ...]:
        slugs = disclosure.get("conflict_parties", [])
        if not isinstance(slugs, list) or not all(isinstance(s, str) for s in slugs):
            raise self.fail(
                "disclosure.conflict_parties must be a list of party slugs",
                "conflict_parties =",
            )
        known = {party.slug for party in parties}
        for slug in slugs:
            if slug not in known:
                raise self.fail(
                    f"disclosure.conflict_parties names {slug!r}, which is not a party "
                    "in [[parties]]",
                    "conflict_parties =",
                )
        return tuple(slugs)

    def parties(self) -> tuple[PartyData, ...]:
        rows = self.data.get("parties", [])
        if not rows:
            raise self.fail("name at least one party in [[parties]]")
        parties = []
        for row in rows:
            aliases = row.get("aliases", [])
            if not isinstance(aliases, list) or not all(
                isinstance(a, str) for a in aliases
            ):
                raise self.fail(
                    "parties.aliases must be a list of strings", "aliases ="
                )
            aliases = tuple(a.strip() for a in aliases if a.strip())
            for alias in aliases:
                self.refuse_bidi(alias, "parties.aliases")
            limit = Party._meta.get_field("aliases").max_length
            if len(", ".join(aliases)) > limit:
                raise self.fail(
                    f"parties.aliases may hold at most {limit} characters together",
                    "aliases =",
                )
            parties.append(
                PartyData(
                    slug=self.slug(row, "parties", model=Party),
                    name=self.text(row, "name", "parties", model=Party),
                    aliases=aliases,
                )
            )
        self.unique([p.slug for p in parties], "parties")
        return tuple(parties)

    def positions(self, text: str) -> tuple[PositionData, ...]:
        rows = self.data.get("positions", [])
        if not rows:
            raise self.fail("name at least one position in [[positions]]")
        positions = [
            PositionData(
                slug=self.slug(row, "positions", model=Position),
                claim=self.text(row, "claim", "positions", model=Position),
                summary=self.text(row, "summary", "positions", required=False),
                quote=self.quote(self.text(row, "quote", "positions"), text),
            )
            for row in rows
        ]
        self.unique([p.slug for p in positions], "positions")
        return tuple(positions)

    def unique(self, slugs: list[str], where: str) -> None:
        for slug in slugs:
            if slugs.count(slug) > 1:
                raise self.fail(f"{where}: slug {slug!r} is used twice", f'"{slug}"')
