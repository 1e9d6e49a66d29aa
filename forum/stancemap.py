"""The stance map: where a debate's replies stand, split by who wrote them and their ties.

For each position a diverging bar, opposition to the left and support to the
right, in two bands: one split by authorship class (`Written`), one by interest
class (`Ties`). Every segment links to the thread filtered to its replies. The
counts are the stored tallies (`StanceTally`, kept by forum.services.tallies),
read in one query for any number of topics whatever their size; widths are whole percents so the page can draw
them with classes of its stylesheet (the CSP allows no inline style).
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache

from django.db import DatabaseError, transaction
from django.template.loader import get_template, render_to_string
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from .caching import digest
from .models import (
    Polarity,
    Position,
    Stance,
    StanceMapPiece,
    StanceTally,
    Ties,
    Topic,
    TopicTallies,
    Written,
)

logger = logging.getLogger(__name__)

# Which bands a bar has, each with the query parameter its segments filter on.
BANDS = (("written", Written), ("ties", Ties))


# How a segment's replies are named in a sentence, by interest class.
PHRASES = {
    Ties.NONE: "with no declared interest",
    Ties.DECLARED: "with a declared interest",
    Ties.PARTY: "tied to a party",
}


def agreeing(polarity: str, count: int) -> str:
    """The verb for `count` replies on the `polarity` side: "supports", "oppose"."""
    verb = "support" if polarity == Polarity.SUPPORTS else "oppose"
    return verb + ("s" if count == 1 else "")


def only_query(href: str) -> str:
    """The link's query alone: the thread page links to itself, filtered."""
    return href[href.index("?") :]


@dataclass
class Segment:
    band: str
    key: str
    label: str
    count: int
    href: str
    polarity: str = Polarity.SUPPORTS
    width: int = 0

    @property
    def query(self) -> str:
        return only_query(self.href)

    @property
    def description(self) -> str:
        """The segment as a sentence, for screen readers and tooltips:
        "1 AI-generated reply opposes", "3 replies tied to a party support"."""
        replies = "reply" if self.count == 1 else "replies"
        verb = agreeing(self.polarity, self.count)
        if self.key == Written.AI_AGENT:
            return f"{self.count} {replies} posted by AI agents {verb}"
        if self.band == "written":
            kind = self.label if self.label.startswith("AI") else self.label.lower()
            return f"{self.count} {kind} {replies} {verb}"
        return f"{self.count} {replies} {PHRASES[self.key]} {verb}"

    # A map has a hundred segments, each drawn twice (bar and table): built
    # here, since a template spends more on one segment's seven lookups than
    # on the whole string.

    @property
    def bar_html(self) -> str:
        if not self.count:
            return ""
        number = ""
        if self.width >= 8:
            number = format_html(
                '<span class="seg-n" aria-hidden="true">{}</span>', self.count
            )
        return format_html(
            '<a class="seg seg-{} w{}" href="{}" title="{}">{}</a>',
            self.key,
            self.width,
            self.query,
            self.description,
            number,
        )

    @property
    def cell_html(self) -> str:
        if not self.count:
            return mark_safe("<td>0</td>")
        return format_html('<td><a href="{}">{}</a></td>', self.query, self.count)


@dataclass
class Side:
    polarity: str
    slug: str
    href: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    total: int = 0
    bands: dict[str, list[Segment]] = field(default_factory=dict)

    @property
    def query(self) -> str:
        return only_query(self.href)

    @property
    def verb(self) -> str:
        return agreeing(self.polarity, 2)

    @property
    def segments(self) -> list[Segment]:
        """Every band's segments in turn: one row of the table."""
        return [segment for band, _ in BANDS for segment in self.bands[band]]


@dataclass
class Row:
    position: Position
    opposes: Side
    supports: Side

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.opposes, self.supports

    @property
    def bands(self) -> list[tuple[str, list[tuple[Side, list[Segment]]]]]:
        """(band, [(side, its segments)]): the bar, one band at a time."""
        return [(band, [(s, s.bands[band]) for s in self.sides]) for band, _ in BANDS]


@dataclass
class StanceMap:
    topic: Topic
    rows: list[Row]

    @property
    def total(self) -> int:
        return sum(side.total for row in self.rows for side in row.sides)

    @property
    def bands(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """(band, [(key, label)]): the legend and the table's columns."""
        return [(band, choices.choices) for band, choices in BANDS]


def for_topics(topics: list[Topic]) -> dict[int, StanceMap]:
    """Each topic's stance map, by topic id: one query for all of them.

    The topics' positions must be loaded (prefetched) already.
    """
    counts: dict[tuple[int, str], dict[str, dict[str, int]]] = defaultdict(
        lambda: {band: defaultdict(int) for band, _ in BANDS}
    )
    tallies = StanceTally.objects.filter(topic__in=topics, count__gt=0).values_list(
        "position_id", "polarity", "authorship", "ties", "count"
    )
    for position, polarity, authorship, ties, count in tallies:
        side = counts[position, polarity]
        side["written"][Written.of(authorship)] += count
        side["ties"][ties] += count
    return {topic.pk: _build(topic, counts) for topic in topics}


def for_topic(topic: Topic) -> StanceMap:
    return for_topics([topic])[topic.pk]


def _build(topic: Topic, counts) -> StanceMap:
    url = topic.get_absolute_url()
    rows = []
    for position in topic.positions.all():
        sides = {}
        for polarity in (Polarity.OPPOSES, Polarity.SUPPORTS):
            slug = Stance.slug_for(position, polarity)
            side = Side(polarity, slug, f"{url}?{urlencode({'stance': slug})}")
            side.counts = counts.get((position.pk, polarity)) or {}
            side.total = sum(side.counts.get("written", {}).values())
            sides[polarity] = side
        rows.append(Row(position, sides[Polarity.OPPOSES], sides[Polarity.SUPPORTS]))
    # One scale for the whole map, so bars compare across positions.
    scale = max((side.total for row in rows for side in row.sides), default=0)
    for row in rows:
        for side in row.sides:
            for band, choices in BANDS:
                side.bands[band] = _segments(url, side, band, choices, scale)
    return StanceMap(topic, rows)


def _segments(url: str, side: Side, band: str, choices, scale: int) -> list[Segment]:
    segments = [
        Segment(
            band,
            key,
            label,
            side.counts.get(band, {}).get(key, 0),
            f"{url}?{urlencode({'stance': side.slug, band: key})}",
            side.polarity,
        )
        for key, label in choices.choices
    ]
    for segment, width in zip(
        segments, widths([s.count for s in segments], scale), strict=True
    ):
        segment.width = width
    return segments


def widths(counts: list[int], scale: int) -> list[int]:
    """Whole percents of `scale` for `counts`, summing to their rounded total.

    Largest remainders get the leftover points, and a non-empty segment is never
    drawn at 0: a single reply must show.
    """
    if not scale:
        return [0] * len(counts)
    exact = [count * 100 / scale for count in counts]
    result = [
        max(int(value), 1 if count else 0)
        for value, count in zip(exact, counts, strict=True)
    ]
    target = round(sum(counts) * 100 / scale)
    by_remainder = sorted(
        range(len(counts)), key=lambda i: exact[i] - int(exact[i]), reverse=True
    )
    for i in by_remainder:
        if sum(result) >= target:
            break
        if counts[i]:
            result[i] += 1
    # Points lent to tiny segments come back from the widest, so a full side
    # never passes 100.
    while sum(result) > target and max(result) > 1:
        result[result.index(max(result))] -= 1
    return result


def stored_section(topic: Topic, tallies: TopicTallies) -> str:
    """The thread's positions section with the stance map, from its stored
    rendering while what it shows is unchanged; built, rendered and stored
    otherwise. `topic` has its positions and parties loaded."""
    version = digest(topic.pk, topic.revised.isoformat(), tallies.rows, _templates())
    stored = (
        StanceMapPiece.objects.filter(topic=topic.pk, version=version)
        .values_list("html", flat=True)
        .first()
    )
    if stored is not None:
        return stored
    html = render_to_string(
        "forum/_positions.html", {"topic": topic, "map": for_topic(topic)}
    )
    try:
        with transaction.atomic():
            StanceMapPiece.objects.bulk_create(
                [StanceMapPiece(topic_id=topic.pk, version=version, html=html)],
                update_conflicts=True,
                unique_fields=["topic"],
                update_fields=["version", "html"],
            )
    except DatabaseError as exc:  # busy: stored by the next reader
        logger.warning("Stance map of topic %d not stored: %s", topic.pk, exc)
    return html


@cache
def _templates() -> str:
    """The source of what renders the section, so a release renders it anew."""
    names = ("forum/_positions.html", "forum/_stance_legend.html")
    return digest(*(get_template(name).template.source for name in names))
