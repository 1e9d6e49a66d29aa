"""Open-data exports, /data/<slug>/, through the front door: what each file
holds, that it matches the API, its provenance, and that it is written once
per topic version."""

import csv
import hashlib
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from forum import exports, limits, opendata
from forum.models import Post, PostRevision, PostStatus, Topic

from .factories import make_post, make_topic, make_user, stance
from .test_api import walk

GOLDEN = Path(__file__).parent / "data" / "export"


@pytest.fixture(autouse=True)
def _exports(settings, tmp_path):
    settings.STANDPOINT_EXPORT_ROOT = tmp_path / "exports"


def download(client, topic, name) -> tuple[int, bytes, object]:
    response = client.get(f"/data/{topic.slug}/{name}")
    body = (
        b"".join(response.streaming_content) if response.streaming else response.content
    )
    return response.status_code, body, response


@pytest.fixture
def debate(topic, moderator):
    ada, bo = make_user(username="ada"), make_user(username="bo")
    posts = [
        make_post(topic=topic, author=ada, body="First, for."),
        make_post(
            topic=topic,
            author=bo,
            body='Against, with "quotes", commas\nand a new line.',
            stances=[stance(topic, "opposes-ban-endangers-defenders")],
            tags=["b", "A"],
            authorship="ai_assisted",
            ai_model="Claude",
            ai_maker="Anthropic",
        ),
        # Ada changes her mind: her latest stance counts as her vote.
        make_post(
            topic=topic,
            author=ada,
            body="On reflection, against.",
            stances=[
                stance(topic, "opposes-ban-endangers-defenders"),
                stance(topic, "supports-ban-is-justified"),
            ],
        ),
        make_post(topic=topic, body="Hidden words: walrus."),
    ]
    from forum import services

    services.posts_set_status(
        posts=Post.objects.filter(pk=posts[3].pk),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Spam",
    )
    return posts


def test_posts_jsonl_is_the_apis_records(client, debate, topic):
    status, body, response = download(client, topic, "posts.jsonl")
    assert status == 200
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    records = [json.loads(line) for line in body.decode().splitlines()]
    assert records == walk(client, f"/api/v1/topics/{topic.slug}/posts?limit=2")
    assert records[3]["hidden"] and records[3]["body"] is None
    assert b"walrus" not in body


def test_posts_csv_flattens_the_same_records(client, debate, topic):
    _, body, response = download(client, topic, "posts.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert list(rows[0]) == [field.name for field in opendata.POST_FIELDS]
    _, lines, _ = download(client, topic, "posts.jsonl")
    records = [json.loads(line) for line in lines.decode().splitlines()]
    assert [int(row["id"]) for row in rows] == [r["id"] for r in records]
    second = rows[1]
    assert second["body"] == 'Against, with "quotes", commas\nand a new line.'
    assert second["stances"] == "opposes:ban-endangers-defenders"
    assert second["tags"] == "A; b"
    assert second["authorship"] == "ai_assisted"
    assert second["ai_maker_is_party"] == "true"
    assert second["ai_maker_party"] == "Anthropic"
    assert second["review_state"] == "self_declared"
    assert rows[0]["hidden"] == "false" and rows[0]["edited"] == ""
    third = rows[2]
    assert third["stances"] == (
        "opposes:ban-endangers-defenders; supports:ban-is-justified"
    )
    hidden = rows[3]
    assert hidden["hidden"] == "true" and hidden["hidden_reason"] == "Spam"
    assert hidden["body"] == "" and hidden["author"] == ""


def test_polis_files_put_participants_against_positions(client, debate, topic):
    _, body, _ = download(client, topic, "participant-votes.csv")
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0] == [
        "participant",
        "group-id",
        "n-comments",
        "n-votes",
        "n-agree",
        "n-disagree",
        "0",
        "1",
    ]
    # ada (two replies, latest: opposes 0, supports 1), bo (opposes 0); the
    # hidden reply's author took no part that readers can see.
    assert rows[1:] == [
        ["0", "", "2", "2", "1", "1", "-1", "1"],
        ["1", "", "1", "1", "0", "1", "-1", ""],
    ]
    _, body, _ = download(client, topic, "comments.csv")
    comments = list(csv.DictReader(io.StringIO(body.decode())))
    assert [c["comment-body"] for c in comments] == [
        "The ban endangers defenders",
        "The ban is justified",
    ]
    assert [(c["agrees"], c["disagrees"]) for c in comments] == [("0", "2"), ("1", "0")]
    assert {c["moderated"] for c in comments} == {"1"}
    assert int(comments[0]["timestamp"]) == int(topic.created.timestamp())


def test_datapackage_describes_every_file_with_hash_size_and_licence(
    client, debate, topic, settings
):
    settings.STANDPOINT_DATA_LICENSE = {
        "name": "ODC-By-1.0",
        "title": "Open Data Commons Attribution License",
        "path": "https://opendatacommons.org/licenses/by/1-0/",
    }
    status, body, response = download(client, topic, "datapackage.json")
    assert status == 200 and response["Content-Type"] == "application/json"
    package = json.loads(body)
    assert package["licenses"] == [settings.STANDPOINT_DATA_LICENSE]
    assert package["standpoint"]["site_version"] == opendata.SITE_VERSION
    assert datetime.fromisoformat(package["created"]) > datetime.now(UTC) - timedelta(
        minutes=5
    )
    names = [resource["path"] for resource in package["resources"]]
    assert names == list(exports.FILES)
    for resource in package["resources"]:
        _, data, _ = download(client, topic, resource["path"])
        assert resource["bytes"] == len(data)
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        fields = [field["name"] for field in resource["schema"]["fields"]]
        assert all(field["description"] for field in resource["schema"]["fields"])
        if resource["path"].endswith(".csv"):
            header = next(csv.reader(io.StringIO(data.decode())))
            assert fields == header
        else:
            first = json.loads(data.decode().splitlines()[0])
            assert set(fields) == set(first)
    # Asked again, the same document: written once per version.
    assert download(client, topic, "datapackage.json")[1] == body


def test_the_licence_is_stated_where_people_sign_up_and_in_the_footer(client, db):
    page = client.get("/accounts/signup/").content.decode()
    assert "Creative Commons Attribution 4.0 International" in page
    assert "https://creativecommons.org/licenses/by/4.0/" in page
    assert 'rel="license"' in client.get("/").content.decode()


def test_written_once_per_version_then_served_from_the_file(
    client, debate, topic, django_assert_max_num_queries, monkeypatch
):
    status, first, response = download(client, topic, "posts.csv")
    assert response.streaming  # the first download streams as it is written
    monkeypatch.setattr(limits, "SWEEP_ONE_IN", 10**12)  # housekeeping, left out
    with django_assert_max_num_queries(2):  # the address's count and the topic
        again = client.get(f"/data/{topic.slug}/posts.csv")
    assert b"".join(again.streaming_content) == first
    assert again.get("ETag")
    assert (
        client.get(
            f"/data/{topic.slug}/posts.csv", HTTP_IF_NONE_MATCH=again["ETag"]
        ).status_code
        == 304
    )
    make_post(topic=topic, body="A reply after the export.")
    _, changed, _ = download(client, topic, "posts.csv")
    assert b"A reply after the export." in changed
    folders = list(
        (Path(exports.settings.STANDPOINT_EXPORT_ROOT) / topic.slug).iterdir()
    )
    assert len(folders) == 1  # the earlier version's files are gone


def test_unknown_topic_or_file_is_a_json_404(client, debate, topic):
    for path in (
        "/data/nope/posts.csv",
        f"/data/{topic.slug}/secrets.txt",
        f"/data/{topic.slug}/",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"].startswith("application/json")


def test_an_export_made_in_batches_holds_every_reply(client, topic, monkeypatch):
    monkeypatch.setattr(exports, "BATCH", 3)
    made = [make_post(topic=topic, body=f"Reply {n}") for n in range(8)]
    _, body, _ = download(client, topic, "posts.jsonl")
    assert [json.loads(line)["id"] for line in body.decode().splitlines()] == [
        p.pk for p in made
    ]


FIXED = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


@pytest.mark.django_db(reset_sequences=True)
def test_the_same_bytes_from_either_database(client):
    """The files hold only what the data says, formatted one way: these bytes
    were written from SQLite, and the PostgreSQL run must match them."""
    topic = make_topic(title="Golden", slug="golden")
    people = [make_user(username=name) for name in ("ana", "ben", "cy")]
    make_post(topic=topic, author=people[0], body="Ünïcode, “quotes” and\ttabs.")
    make_post(
        topic=topic,
        author=people[1],
        body="Against.",
        stances=[stance(topic, "opposes-ban-endangers-defenders")],
        authorship="ai_generated",
        ai_model="Claude",
        ai_maker="Anthropic PBC",
        tags=["zeta", "Alpha"],
    )
    make_post(topic=topic, author=people[2], body="Paid.", paid="yes", paid_by="A lab")
    Post.objects.update(created=FIXED, attested_at=FIXED)
    Topic.objects.update(created=FIXED)
    PostRevision.objects.update(created=FIXED)
    get_user_model().objects.update(date_joined=FIXED)
    for name in exports.FILES:
        _, body, _ = download(client, Topic.objects.get(pk=topic.pk), name)
        if os.environ.get("WRITE_GOLDEN"):  # after a deliberate format change
            (GOLDEN / name).write_bytes(body)
        expected = (GOLDEN / name).read_bytes()
        assert body == expected, name
