"""Where SQLite and PostgreSQL differ, the site does not: one outcome on either.

SQLite stores NUL characters and text longer than a column's varchar(n); PostgreSQL
refuses both with an error that would end in a 500. SQLite's case-insensitive
LIKE folds ASCII letters only; PostgreSQL's follows its locale. So the forms refuse
what either database would treat differently, and case is matched in Python. The
tests run on the run's database (`DATABASE_URL`; `.ci/run` runs both) and expect
the same result on each.
"""

import pytest
from django.db import DataError, connection, transaction
from django.test import Client
from pytest_django.asserts import assertContains
from taggit.models import Tag

from forum.models import Party, Post

from .factories import make_post, make_user
from .pages import field_errors, reply_data, reply_url

NUL_MESSAGE = "Null characters are not allowed."


@pytest.fixture
def poster(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "field",
    [
        "body",
        "affiliation",
        "ai_model",
        "ai_maker",
        "paid_by",
        "conflict_details",
        "tags",
        "stances",
        "conflict_parties",
    ],
)
def test_nul_character_in_a_reply_is_a_form_error_and_stores_nothing(
    poster, topic, field
):
    value = reply_data()[field]
    if isinstance(value, list):
        value = [*value[:-1], value[-1] + "\x00"]
    else:
        value += "\x00"

    response = poster.post(reply_url(topic), reply_data(**{field: value}))

    assert response.status_code == 200
    assert field_errors(response, field) == [NUL_MESSAGE]
    assert not Post.objects.exists()
    assert not Tag.objects.exists()


def test_nul_character_in_a_thread_filter_is_a_400_with_message(client, topic):
    response = client.get(f"/t/{topic.slug}/", {"stance": "supports-\x00"})

    assert response.status_code == 400
    assertContains(response, f"<li>{NUL_MESSAGE}</li>", status_code=400)


def at_most(limit: int, length: int) -> str:
    return f"Ensure this value has at most {limit} characters (it has {length})."


# field: (longest value stored, one character more, its message)
LIMITS = {
    "affiliation": ("é" * 200, "é" * 201, at_most(200, 201)),
    "ai_model": ("ö" * 100, "ö" * 101, at_most(100, 101)),
    "ai_maker": ("ü" * 100, "ü" * 101, at_most(100, 101)),
    "paid_by": ("ß" * 200, "ß" * 201, at_most(200, 201)),
    "body": ("é" * 20_000, "é" * 20_001, at_most(20_000, 20_001)),
    "tags": (
        "ok, " + "é" * 50,
        "ok, " + "é" * 51,
        f"Keep each keyword tag to 50 characters (“{'é' * 20}…” is longer).",
    ),
}


@pytest.mark.parametrize("field", LIMITS)
def test_text_one_character_over_its_limit_is_a_form_error(poster, topic, field):
    _, too_long, message = LIMITS[field]

    response = poster.post(reply_url(topic), reply_data(**{field: too_long}))

    assert response.status_code == 200
    assert field_errors(response, field) == [message]
    assert not Post.objects.exists()


@pytest.mark.parametrize("field", LIMITS)
def test_text_at_its_limit_is_stored_whole_counting_characters_not_bytes(
    poster, topic, field
):
    longest, _, _ = LIMITS[field]

    response = poster.post(reply_url(topic), reply_data(**{field: longest}))

    assert response.status_code == 302
    post = Post.objects.get()
    if field == "tags":
        assert sorted(post.tags.names()) == ["ok", "é" * 50]
    else:
        assert getattr(post, field) == longest


@pytest.mark.parametrize(
    ("field", "value"),
    [("affiliation", "x" * 300), ("body", "NUL\x00byte")],
    ids=["over-long affiliation", "NUL in body"],
)
def test_the_databases_differ_on_bad_text_so_the_form_refuses_it_on_both(
    poster, topic, field, value
):
    """PostgreSQL raises DataError for text over varchar(n) or holding NUL; SQLite
    stores it. That difference is why the forms validate: the reply form refuses it
    the same way on both, and nothing reaches the database.
    """
    post = make_post(topic=topic)
    rows = Post.objects.filter(pk=post.pk)
    if connection.vendor == "postgresql":
        with transaction.atomic(), pytest.raises(DataError):
            rows.update(**{field: value})
        assert getattr(rows.get(), field) == getattr(post, field)
    else:
        assert connection.vendor == "sqlite"
        rows.update(**{field: value})
        assert getattr(rows.get(), field) == value

    response = poster.post(reply_url(topic), reply_data(**{field: value}))

    assert response.status_code == 200
    assert field_errors(response, field) == [
        at_most(200, 300) if field == "affiliation" else NUL_MESSAGE
    ]
    assert list(Post.objects.all()) == [post]


@pytest.mark.parametrize("maker", ["ünïcode labs", "ÜNÏCODE LABS", "ωmega ai"])
def test_ai_maker_is_matched_to_a_party_ignoring_case_beyond_ascii(
    poster, topic, maker
):
    Party.objects.create(
        topic=topic, name="Ünïcode Labs", slug="unicode-labs", aliases="Ωmega AI"
    )

    response = poster.post(reply_url(topic), reply_data(ai_maker=maker))

    assert response.status_code == 302
    assert Post.objects.get().maker_party.slug == "unicode-labs"
    assertContains(
        poster.get(f"/t/{topic.slug}/"),
        '<strong class="maker-party">Ünïcode Labs is a party to this debate</strong>',
        html=False,
    )


def test_keyword_tags_differing_only_in_case_beyond_ascii_are_one_tag(poster, topic):
    poster.post(reply_url(topic), reply_data(tags="École, Straße"))
    second = Client()
    second.force_login(make_user())
    second.post(reply_url(topic), reply_data(tags="école, ÉCOLE, straße"))

    assert sorted(Tag.objects.values_list("name", flat=True)) == ["Straße", "École"]
    assert [sorted(p.tags.names()) for p in Post.objects.order_by("pk")] == [
        ["Straße", "École"],
        ["Straße", "École"],
    ]
