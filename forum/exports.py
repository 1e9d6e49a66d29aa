"""Open-data exports of a topic, /data/<slug>/: files at stable URLs, with provenance.

Each file is written once per topic version to EXPORT_ROOT/<slug>/<version>/,
by the first download, which streams it to the client while writing it (a
batch of replies in memory at a time, so a 100,000-reply topic exports in
bounded memory); later downloads are that file, until the topic changes.
The records are forum.opendata's, as the API's. datapackage.json describes
the files (fields, licence, SHA-256 and size), so asking for it writes any
file not yet written.
"""

import csv
import hashlib
import io
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db.models import prefetch_related_objects

from . import opendata
from .caching import digest
from .models import Polarity, Post, PostStance, Topic

BATCH = 500

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Export:
    name: str
    media_type: str
    title: str
    description: str


FILES = {
    export.name: export
    for export in (
        Export(
            "posts.jsonl",
            "application/x-ndjson",
            "Replies, one JSON record per line",
            "Every reply in thread order, as the API's /posts answers it; a hidden "
            "reply keeps only its place and the moderators' public reason.",
        ),
        Export(
            "posts.csv",
            "text/csv",
            "Replies, one row each",
            "posts.jsonl flattened: lists joined with '; ', the disclosure's and "
            "its review's fields as columns, body_html left out.",
        ),
        Export(
            "comments.csv",
            "text/csv",
            "Positions, as Pol.is comments",
            "Pol.is-compatible: each position is a comment (comment-id is its order "
            "in the topic, from 0); agrees and disagrees count the participants "
            "whose latest reply supports or opposes it.",
        ),
        Export(
            "participant-votes.csv",
            "text/csv",
            "Participants × positions, as Pol.is votes",
            "Pol.is-compatible: one row per participant (numbered by their first "
            "reply, from 0), one column per position: 1 supports, -1 opposes, "
            "empty for no stance, from their latest reply that takes one.",
        ),
    )
}


class Snapshot:
    """What one export of a topic reads: its version, and the replies numbered
    up to the count when it started (replies posted meanwhile wait for the
    next version)."""

    def __init__(self, topic: Topic):
        self.topic = topic
        self.version = digest(topic.pk, topic.updated.isoformat())[:16]
        self.last = topic.reply_count + topic.hidden_count
        self.folder = Path(settings.STANDPOINT_EXPORT_ROOT) / topic.slug / self.version

    def path(self, name: str) -> Path:
        return self.folder / name

    def posts(self) -> Iterator[Post]:
        """Every reply up to `last`, in thread order, a batch of records' worth
        of rows at a time."""
        topic = self.topic
        # Each reply's maker-is-a-party flag reads the parties: once, here.
        prefetch_related_objects([topic], "parties")
        after = 0
        while after < self.last:
            upto = min(after + BATCH, self.last)
            batch = topic.posts.filter(number__gt=after, number__lte=upto)
            rows = list(opendata.posts_for_records(batch.order_by("number")))
            yield from opendata.attach(rows, topic)
            after = upto

    def lines(self, name: str) -> Iterator[bytes]:
        return {
            "posts.jsonl": self._jsonl,
            "posts.csv": self._posts_csv,
            "comments.csv": self._comments_csv,
            "participant-votes.csv": self._votes_csv,
        }[name]()

    def _jsonl(self) -> Iterator[bytes]:
        for post in self.posts():
            record = opendata.post_record(post)
            yield (json.dumps(record, ensure_ascii=False) + "\n").encode()

    def _posts_csv(self) -> Iterator[bytes]:
        yield _csv_line([field.name for field in opendata.POST_FIELDS])
        for post in self.posts():
            yield _csv_line(opendata.post_row(opendata.post_record(post)))

    def positions(self) -> list:
        return list(self.topic.positions.all())

    def votes(self) -> tuple[dict[int, dict], dict[int, int]]:
        """Each participant's latest stance on each position, and their reply
        counts, by author id in order of first reply: memory grows with the
        participants, not the replies."""
        replies: dict[int, int] = {}
        published = self.topic.posts.published().filter(number__lte=self.last)
        authors = published.order_by("number").values_list("author_id", flat=True)
        for author in authors.iterator(chunk_size=2000):
            replies[author] = replies.get(author, 0) + 1
        latest: dict[int, dict[int, tuple[int, str]]] = {a: {} for a in replies}
        links = (
            PostStance.objects.filter(content_object__in=published)
            .values_list(
                "content_object__author_id",
                "content_object__number",
                "tag__position_id",
                "tag__polarity",
            )
            .order_by("content_object__number")
        )
        for author, number, position, polarity in links.iterator(chunk_size=2000):
            latest[author][position] = (number, polarity)
        votes = {
            author: {p: pol for p, (_, pol) in stances.items()}
            for author, stances in latest.items()
        }
        return votes, replies

    def _comments_csv(self) -> Iterator[bytes]:
        yield _csv_line(
            [
                "timestamp",
                "datetime",
                "comment-id",
                "author-id",
                "agrees",
                "disagrees",
                "moderated",
                "comment-body",
            ]
        )
        votes, replies = self.votes()
        participants = {author: n for n, author in enumerate(replies)}
        created = self.topic.created
        for index, position in enumerate(self.positions()):
            sides = [v.get(position.pk) for v in votes.values()]
            proposer = participants.get(position.proposed_by_id, -1)
            yield _csv_line(
                [
                    int(created.timestamp()),
                    created.astimezone(UTC).strftime(
                        "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)"
                    ),
                    index,
                    proposer,
                    sides.count(Polarity.SUPPORTS),
                    sides.count(Polarity.OPPOSES),
                    1,
                    position.claim,
                ]
            )

    def _votes_csv(self) -> Iterator[bytes]:
        positions = self.positions()
        yield _csv_line(
            [
                "participant",
                "group-id",
                "n-comments",
                "n-votes",
                "n-agree",
                "n-disagree",
                *range(len(positions)),
            ]
        )
        votes, replies = self.votes()
        for number, (author, stances) in enumerate(votes.items()):
            cells = [
                {Polarity.SUPPORTS: 1, Polarity.OPPOSES: -1}.get(stances.get(p.pk), "")
                for p in positions
            ]
            agree = cells.count(1)
            disagree = cells.count(-1)
            yield _csv_line(
                [number, "", replies[author], agree + disagree, agree, disagree, *cells]
            )


def _csv_line(cells: list) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue().encode()


def streamed(snapshot: Snapshot, name: str) -> Iterator[bytes]:
    """The file's bytes as they are made, written to its place as they go: a
    download cut short leaves nothing behind; one that ends keeps the file.
    Storage that fails only costs the copy: the download goes on."""
    path = snapshot.path(name)
    partial = path.with_name(f".{name}.{uuid.uuid4().hex}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        out = partial.open("wb")
    except OSError as exc:
        logger.warning("Export %s not kept: %s", path, exc)
        out = None
    try:
        for chunk in snapshot.lines(name):
            if out is not None:
                try:
                    out.write(chunk)
                except OSError as exc:
                    logger.warning("Export %s not kept: %s", path, exc)
                    out.close()
                    out = None
            yield chunk
        if out is not None:
            out.close()
            out = None
            os.replace(partial, path)
            _forget_older(snapshot)
    except FileNotFoundError:
        pass  # a newer version's export removed this one's folder meanwhile
    finally:
        if out is not None:
            out.close()
        partial.unlink(missing_ok=True)


def written(snapshot: Snapshot, name: str) -> Path:
    """The file on disk, written first if this version has none."""
    path = snapshot.path(name)
    if not path.exists():
        for _ in streamed(snapshot, name):
            pass
    return path


def _forget_older(snapshot: Snapshot) -> None:
    """Remove the topic's files of earlier versions: nobody can ask for them."""
    for folder in snapshot.folder.parent.iterdir():
        if folder.name != snapshot.version and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


def package(snapshot: Snapshot, request_base: str) -> Path:
    """datapackage.json for this version, written once (so its `created`
    stays what it was), after every file it describes."""
    path = snapshot.path("datapackage.json")
    if path.exists():
        return path
    resources = []
    for export in FILES.values():
        file = written(snapshot, export.name)
        resources.append(_resource(snapshot, export, file))
    topic = snapshot.topic
    document = {
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": f"standpoint-{topic.slug}",
        "title": topic.title,
        "description": (
            f"The debate “{topic.title}” on Standpoint: every reply with where it "
            "stands, who or what wrote it and what ties its author declared."
        ),
        "homepage": request_base + topic.get_absolute_url(),
        "version": snapshot.version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "licenses": [opendata.licence()],
        "sources": [
            {
                "title": topic.source_publication,
                "path": topic.source_url or request_base + topic.get_absolute_url(),
            }
        ],
        "standpoint": {
            "site_version": opendata.SITE_VERSION,
            "topic_updated": topic.updated.isoformat(),
            "replies": snapshot.last,
            "article_disclosure": topic.disclosure_statement,
        },
        "resources": resources,
    }
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    partial = path.with_name(f".datapackage.json.{uuid.uuid4().hex}")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path


def _resource(snapshot: Snapshot, export: Export, file: Path) -> dict:
    sha256 = hashlib.sha256()
    with file.open("rb") as data:
        for block in iter(lambda: data.read(1 << 16), b""):
            sha256.update(block)
    resource = {
        "name": export.name.rsplit(".", 1)[0].replace("-", "_"),
        "path": export.name,
        "title": export.title,
        "description": export.description,
        "format": export.name.rsplit(".", 1)[1],
        "mediatype": export.media_type,
        "encoding": "utf-8",
        "bytes": file.stat().st_size,
        "hash": f"sha256:{sha256.hexdigest()}",
        "schema": {"fields": _fields(snapshot, export.name)},
    }
    if export.media_type == "text/csv":
        resource["dialect"] = {"header": True, "delimiter": ",", "lineTerminator": "\n"}
    return resource


def _fields(snapshot: Snapshot, name: str) -> list[dict]:
    def field(name: str, type: str, description: str) -> dict:
        return {"name": name, "type": type, "description": description}

    if name in ("posts.jsonl", "posts.csv"):
        fields = [field(f.name, f.type, f.description) for f in opendata.POST_FIELDS]
        if name == "posts.jsonl":
            extra = opendata.JSONL_EXTRA_FIELDS
            fields += [field(f.name, f.type, f.description) for f in extra]
            for item in fields:
                if item["name"] in JSONL_OBJECTS:
                    item["type"], item["description"] = JSONL_OBJECTS[item["name"]]
            fields = [f for f in fields if f["name"] not in JSONL_FLATTENED]
            fields.append(field("disclosure", "object", DISCLOSURE_OBJECT))
        return fields
    if name == "comments.csv":
        return [
            field(
                "timestamp",
                "integer",
                "When the topic opened (seconds since 1970, UTC).",
            ),
            field("datetime", "string", "The same, as Pol.is writes it."),
            field(
                "comment-id", "integer", "The position's order in the topic, from 0."
            ),
            field(
                "author-id",
                "integer",
                "The participant who proposed it, or -1 for the topic's own positions.",
            ),
            field("agrees", "integer", "Participants whose latest stance supports it."),
            field(
                "disagrees", "integer", "Participants whose latest stance opposes it."
            ),
            field(
                "moderated", "integer", "1: moderators accepted it (every position is)."
            ),
            field("comment-body", "string", "The position's claim."),
        ]
    positions = snapshot.positions()
    return [
        field(
            "participant", "integer", "The participant, numbered by first reply from 0."
        ),
        field("group-id", "integer", "Empty: Standpoint makes no opinion groups."),
        field("n-comments", "integer", "Their published replies."),
        field("n-votes", "integer", "Positions they took a stance on."),
        field("n-agree", "integer", "Positions they support."),
        field("n-disagree", "integer", "Positions they oppose."),
        *(
            field(str(i), "integer", f"1 supports, -1 opposes, empty none: {p.claim}")
            for i, p in enumerate(positions)
        ),
    ]


JSONL_OBJECTS = {
    "stances": ("array", "Its stances: {stance, position, polarity} each."),
    "tags": ("array", "Its free keyword tags."),
}
# In posts.jsonl these are inside `disclosure` rather than columns.
JSONL_FLATTENED = {field.name for field in opendata.POST_FIELDS} - {
    *opendata.POST_RECORD_KEYS
}
DISCLOSURE_OBJECT = (
    "Who or what wrote it and what ties its author declared, with the moderators' "
    "review: the same fields as posts.csv's disclosure columns (review_* inside "
    "`review`)."
)
