from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from forum import services
from forum.models import (
    ModerationAction,
    Party,
    Position,
    PositionProposal,
    Post,
    PostStatus,
    Stance,
    Topic,
)

from .factories import (
    HUMAN_DISCLOSURE,
    disclosure,
    make_post,
    make_topic,
    make_user,
)

AI_FIELDS = (
    "Name the AI model and its maker when AI was involved, and leave both empty "
    "when it was not."
)
AFFILIATION = "Affiliation is required; write “none” if you have none."
PAID_BY = (
    "Say who pays when the post is paid or payment is expected, and no one otherwise."
)
CONFLICT_DETAILS = (
    "Describe a declared conflict, and leave the details empty when there is none."
)
BODY = "A post needs a body of at most 20000 characters."
BLANK = "This field cannot be blank."


def invalid_choice(value):
    return f"Value {value!r} is not a valid choice."


def post_fields(topic, author, **changes):
    """Every column of a valid human-written post, with `changes` applied."""
    fields = {
        "topic": topic,
        "author": author,
        "body": "A reply.",
        **HUMAN_DISCLOSURE,
        "attested_at": timezone.now(),
        "number": topic.posts.count() + 1,
    }
    return {**fields, **changes}


# (changes, field the error is reported on, message, constraint the database names).
# Each row breaks one constraint only: of several, SQLite names the first declared
# and PostgreSQL the first by name. An unknown conflict breaks the details rule too.
AI_NAMED = {"ai_model": "Claude", "ai_maker": "Anthropic"}
CONFLICT_RULES = (
    "forum_post_conflict_valid",
    "forum_post_conflict_details_match_conflict",
)
REJECTED_POSTS = {
    "authorship empty": (
        {"authorship": "", **AI_NAMED},
        "authorship",
        BLANK,
        "forum_post_authorship_valid",
    ),
    "authorship unknown": (
        {"authorship": "robot", **AI_NAMED},
        "authorship",
        invalid_choice("robot"),
        "forum_post_authorship_valid",
    ),
    "ai model missing": (
        {"authorship": "ai_generated", "ai_maker": "Anthropic"},
        "__all__",
        AI_FIELDS,
        "forum_post_ai_fields_match_authorship",
    ),
    "ai maker whitespace": (
        {"authorship": "ai_generated", "ai_model": "Claude", "ai_maker": "  "},
        "__all__",
        AI_FIELDS,
        "forum_post_ai_fields_match_authorship",
    ),
    "ai maker missing": (
        {"authorship": "ai_assisted", "ai_model": "Claude"},
        "__all__",
        AI_FIELDS,
        "forum_post_ai_fields_match_authorship",
    ),
    "ai model whitespace": (
        {"authorship": "ai_polished", "ai_model": "   ", "ai_maker": "Anthropic"},
        "__all__",
        AI_FIELDS,
        "forum_post_ai_fields_match_authorship",
    ),
    "human with ai model": (
        {"ai_model": "Claude"},
        "__all__",
        AI_FIELDS,
        "forum_post_ai_fields_match_authorship",
    ),
    "human with ai maker": (
        {"ai_maker": "Anthropic"},
        "__all__",
        AI_FIELDS,
        "forum_post_ai_fields_match_authorship",
    ),
    "human with whitespace ai model": (
        {"ai_model": " "},
        "__all__",
        AI_FIELDS,
        "forum_post_ai_fields_match_authorship",
    ),
    "affiliation empty": (
        {"affiliation": ""},
        "affiliation",
        BLANK,
        "forum_post_affiliation_not_blank",
    ),
    "affiliation whitespace": (
        {"affiliation": "   "},
        "__all__",
        AFFILIATION,
        "forum_post_affiliation_not_blank",
    ),
    "paid empty": (
        {"paid": "", "paid_by": "Acme"},
        "paid",
        BLANK,
        "forum_post_paid_valid",
    ),
    "paid unknown": (
        {"paid": "maybe", "paid_by": "Acme"},
        "paid",
        invalid_choice("maybe"),
        "forum_post_paid_valid",
    ),
    "paid without payer": (
        {"paid": "yes"},
        "__all__",
        PAID_BY,
        "forum_post_paid_by_matches_paid",
    ),
    "pay expected without payer": (
        {"paid": "expected"},
        "__all__",
        PAID_BY,
        "forum_post_paid_by_matches_paid",
    ),
    "paid with whitespace payer": (
        {"paid": "yes", "paid_by": "  "},
        "__all__",
        PAID_BY,
        "forum_post_paid_by_matches_paid",
    ),
    "unpaid with payer": (
        {"paid_by": "Acme"},
        "__all__",
        PAID_BY,
        "forum_post_paid_by_matches_paid",
    ),
    "conflict empty": (
        {"conflict": ""},
        "conflict",
        BLANK,
        CONFLICT_RULES,
    ),
    "conflict unknown": (
        {"conflict": "some"},
        "conflict",
        invalid_choice("some"),
        CONFLICT_RULES,
    ),
    "declared conflict without details": (
        {"conflict": "declared"},
        "__all__",
        CONFLICT_DETAILS,
        "forum_post_conflict_details_match_conflict",
    ),
    "declared conflict with whitespace details": (
        {"conflict": "declared", "conflict_details": "   "},
        "__all__",
        CONFLICT_DETAILS,
        "forum_post_conflict_details_match_conflict",
    ),
    "no conflict with details": (
        {"conflict_details": "I work there."},
        "__all__",
        CONFLICT_DETAILS,
        "forum_post_conflict_details_match_conflict",
    ),
    "body empty": ({"body": ""}, "body", BLANK, "forum_post_body_length"),
    "body whitespace": ({"body": "    "}, "__all__", BODY, "forum_post_body_length"),
    "body too long": (
        {"body": "x" * 20_001},
        "__all__",
        BODY,
        "forum_post_body_length",
    ),
    "status unknown": (
        {"status": "deleted"},
        "status",
        invalid_choice("deleted"),
        "forum_post_status_valid",
    ),
}

ACCEPTED_POSTS = {
    "human": {},
    "ai generated": {
        "authorship": "ai_generated",
        "ai_model": "Claude",
        "ai_maker": "Anthropic",
    },
    "ai polished": {
        "authorship": "ai_polished",
        "ai_model": "DeepL",
        "ai_maker": "DeepL SE",
    },
    "affiliation named": {"affiliation": "Bugcrowd"},
    "paid": {"paid": "yes", "paid_by": "Acme"},
    "pay expected": {"paid": "expected", "paid_by": "Acme"},
    "conflict declared": {"conflict": "declared", "conflict_details": "I work there."},
    "body at the limit": {"body": "x" * 20_000},
    "hidden": {"status": "hidden", "hidden_reason": "Spam."},
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message", "constraint"),
    REJECTED_POSTS.values(),
    ids=REJECTED_POSTS.keys(),
)
def test_post_breaking_a_row_rule_is_rejected_by_model_and_database(
    topic, user, changes, field, message, constraint
):
    fields = post_fields(topic, user, **changes)

    with pytest.raises(ValidationError) as excinfo:
        Post(**fields).full_clean()
    assert message in excinfo.value.message_dict[field]

    with transaction.atomic(), pytest.raises(IntegrityError) as excinfo:
        Post.objects.create(**fields)
    names = (constraint,) if isinstance(constraint, str) else constraint
    assert any(name in str(excinfo.value) for name in names)
    assert not Post.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("changes", ACCEPTED_POSTS.values(), ids=ACCEPTED_POSTS.keys())
def test_post_keeping_the_row_rules_is_accepted_by_model_and_database(
    topic, user, changes
):
    fields = post_fields(topic, user, **changes)

    Post(**fields).full_clean()
    post = Post.objects.create(**fields)

    assert Post.objects.get().pk == post.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"affiliation": "\t"}, "forum_post_affiliation_not_blank"),
        (
            {"authorship": "ai_generated", "ai_model": "Claude", "ai_maker": "\n"},
            "forum_post_ai_fields_match_authorship",
        ),
        ({"paid": "yes", "paid_by": " \r\n "}, "forum_post_paid_by_matches_paid"),
        (
            {"conflict": "declared", "conflict_details": "\n\t"},
            "forum_post_conflict_details_match_conflict",
        ),
        ({"body": "\n\n\t"}, "forum_post_body_length"),
    ],
    ids=["affiliation", "ai maker", "paid by", "conflict details", "body"],
)
def test_text_of_tabs_and_newlines_counts_as_blank(topic, user, changes, constraint):
    fields = post_fields(topic, user, **changes)

    with pytest.raises(ValidationError):
        Post(**fields).full_clean()
    with transaction.atomic(), pytest.raises(IntegrityError) as excinfo:
        Post.objects.create(**fields)
    assert constraint in str(excinfo.value)


@pytest.mark.django_db
def test_database_rejects_an_update_that_breaks_a_row_rule():
    post = make_post()

    with transaction.atomic(), pytest.raises(IntegrityError) as excinfo:
        Post.objects.filter(pk=post.pk).update(authorship="ai_generated")

    assert "forum_post_ai_fields_match_authorship" in str(excinfo.value)
    post.refresh_from_db()
    assert post.authorship == "human"


@pytest.mark.django_db
def test_post_cannot_be_its_own_parent():
    post = make_post()
    reply = make_post(topic=post.topic)

    post.parent = post
    with pytest.raises(ValidationError) as excinfo:
        post.full_clean()
    assert excinfo.value.message_dict["__all__"] == ["A post cannot reply to itself."]

    with transaction.atomic(), pytest.raises(IntegrityError) as excinfo:
        Post.objects.filter(pk=post.pk).update(parent=post)
    assert "forum_post_not_own_parent" in str(excinfo.value)

    reply.parent = post
    reply.full_clean()
    Post.objects.filter(pk=reply.pk).update(parent=post)
    assert post.replies.get() == reply


TOPIC_DISCLOSURE = {
    "source_publication": "The Test Gazette",
    "body": "The article.",
    "authorship": "human",
    "affiliation": "none",
    "paid": "no",
    "conflict": "none",
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message", "constraint"),
    [
        (
            {"authorship": "robot", **AI_NAMED},
            "authorship",
            invalid_choice("robot"),
            "forum_topic_authorship_valid",
        ),
        (
            {"authorship": "ai_generated", "ai_model": "Claude"},
            "__all__",
            AI_FIELDS,
            "forum_topic_ai_fields_match_authorship",
        ),
        (
            {"affiliation": "  "},
            "__all__",
            AFFILIATION,
            "forum_topic_affiliation_not_blank",
        ),
        (
            {"paid": "yes"},
            "__all__",
            PAID_BY,
            "forum_topic_paid_by_matches_paid",
        ),
        (
            {"conflict": "declared"},
            "__all__",
            CONFLICT_DETAILS,
            "forum_topic_conflict_details_match_conflict",
        ),
    ],
    ids=["authorship", "ai fields", "affiliation", "paid by", "conflict details"],
)
def test_topic_disclosure_is_held_to_the_post_rules(
    changes, field, message, constraint
):
    fields = {"title": "A topic", "slug": "a-topic", **TOPIC_DISCLOSURE, **changes}

    with pytest.raises(ValidationError) as excinfo:
        Topic(**fields).full_clean(exclude=["conflict_parties"])
    assert message in excinfo.value.message_dict[field]

    with transaction.atomic(), pytest.raises(IntegrityError) as excinfo:
        Topic.objects.create(**fields)
    assert constraint in str(excinfo.value)
    assert not Topic.objects.exists()


@pytest.mark.django_db
def test_topic_with_ai_generated_article_is_accepted():
    fields = {
        "title": "A topic",
        "slug": "a-topic",
        **TOPIC_DISCLOSURE,
        "authorship": "ai_generated",
        "ai_model": "Claude",
        "ai_maker": "Anthropic",
        "conflict": "declared",
        "conflict_details": "Written by a model of a party.",
    }

    Topic(**fields).full_clean(exclude=["conflict_parties"])
    Topic.objects.create(**fields)

    assert Topic.objects.get().ai_maker == "Anthropic"


@pytest.mark.django_db
def test_body_html_is_rendered_from_markdown_on_save():
    post = make_post(body="Some **bold** and *emphasis*.\n\n> quoted")

    assert post.body_html == (
        "<p>Some <strong>bold</strong> and <em>emphasis</em>.</p>\n"
        "<blockquote>\n<p>quoted</p>\n</blockquote>\n"
    )
    post.body = "Edited."
    post.save()
    post.refresh_from_db()
    assert post.body_html == "<p>Edited.</p>\n"


@pytest.mark.django_db
def test_body_html_is_derived_even_when_forms_are_bypassed(topic, user):
    post = Post.objects.create(**post_fields(topic, user, body="*shell*"))

    assert post.body_html == "<p><em>shell</em></p>\n"


@pytest.mark.django_db
def test_script_in_body_is_escaped_not_run():
    post = make_post(body="Hi <script>alert(1)</script> <img src=x onerror=alert(1)>")

    assert "<script" not in post.body_html
    assert "<img" not in post.body_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in post.body_html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](  javascript:alert(1) )",
        "<javascript:alert(1)>",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[click]: javascript:alert(1)\n\n[click]",
    ],
)
def test_dangerous_link_schemes_are_dropped(body):
    post = make_post(body=body)

    html = post.body_html.lower()
    assert "<a" not in html
    assert "href" not in html


@pytest.mark.django_db
def test_links_get_nofollow_ugc_noopener():
    post = make_post(body="See [the letter](https://example.org/letter).")

    assert post.body_html == (
        '<p>See <a href="https://example.org/letter" rel="nofollow ugc noopener">'
        "the letter</a>.</p>\n"
    )


@pytest.mark.django_db
def test_topic_body_html_is_sanitised_on_save():
    topic = make_topic(body="# Heading\n\n<script>x</script> [a](javascript:x)")

    assert topic.body_html.startswith("<h1>Heading</h1>\n")
    assert "<script" not in topic.body_html
    assert "href" not in topic.body_html


@pytest.mark.django_db
def test_position_has_exactly_one_stance_per_polarity(topic):
    position = topic.positions.get(slug="ban-endangers-defenders")
    assert {(s.polarity, s.slug, s.name) for s in position.stances.all()} == {
        (
            "supports",
            "supports-ban-endangers-defenders",
            "Supports: The ban endangers defenders",
        ),
        (
            "opposes",
            "opposes-ban-endangers-defenders",
            "Opposes: The ban endangers defenders",
        ),
    }

    duplicate = Stance(position=position, polarity="supports", name="Again", slug="a")
    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    assert excinfo.value.messages == ["This position already has this stance."]
    with transaction.atomic(), pytest.raises(IntegrityError):
        duplicate.save()


@pytest.mark.django_db
def test_stance_polarity_must_be_supports_or_opposes(topic):
    position = Position.objects.create(topic=topic, slug="third", claim="A third")
    stance = Stance(position=position, polarity="neutral", name="N", slug="n")

    with pytest.raises(ValidationError) as excinfo:
        stance.full_clean()
    assert excinfo.value.message_dict["polarity"] == [invalid_choice("neutral")]
    with transaction.atomic(), pytest.raises(IntegrityError) as excinfo:
        stance.save()
    assert "forum_stance_polarity_valid" in str(excinfo.value)


@pytest.mark.django_db
def test_two_topics_may_hold_the_same_stance_slug():
    make_topic()
    make_topic()

    assert Stance.objects.filter(slug="supports-ban-endangers-defenders").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Anthropic", "anthropic"),
        ("anthropic pbc", "anthropic"),
        ("  ANTHROPIC PBC ", "anthropic"),
        ("us Government", "us-government"),
        ("OpenAI", None),
        ("Anthropic Inc", None),
        ("", None),
        ("  ", None),
    ],
)
def test_party_named_matches_names_and_aliases_ignoring_case(topic, name, slug):
    party = topic.party_named(name)

    assert (party and party.slug) == slug


@pytest.mark.django_db
def test_party_names_ignore_empty_aliases(topic):
    party = Party.objects.create(
        topic=topic, name="Amazon", slug="amazon", aliases="AWS, , Amazon.com,"
    )

    assert party.names() == {"amazon", "aws", "amazon.com"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("disclosure", "maker"),
    [
        (
            {
                "authorship": "ai_generated",
                "ai_model": "Claude",
                "ai_maker": "anthropic pbc",
            },
            "anthropic",
        ),
        (
            {
                "authorship": "ai_assisted",
                "ai_model": "Claude",
                "ai_maker": "Anthropic",
            },
            "anthropic",
        ),
        (
            {"authorship": "ai_polished", "ai_model": "GPT-4o", "ai_maker": "OpenAI"},
            None,
        ),
        ({"authorship": "human"}, None),
    ],
    ids=["alias", "name", "not a party", "human"],
)
def test_post_maker_party_is_the_party_that_made_its_ai(topic, disclosure, maker):
    post = make_post(topic=topic, **disclosure)

    assert post.maker_party == (topic.parties.get(slug=maker) if maker else None)


@pytest.mark.django_db
def test_topic_maker_party_comes_from_its_own_disclosure():
    topic = make_topic(
        authorship="ai_generated",
        ai_model="Claude",
        ai_maker="Anthropic",
        conflict="declared",
        conflict_details="Written by a party's model.",
    )

    assert topic.maker_party == topic.parties.get(slug="anthropic")


@pytest.mark.django_db
def test_hidden_posts_are_visible_to_staff_only(topic, moderator):
    shown = make_post(topic=topic)
    hidden = make_post(topic=topic)
    Post.objects.filter(pk=hidden.pk).update(
        status=PostStatus.HIDDEN, hidden_reason="Spam."
    )

    assert list(Post.objects.visible_to(make_user())) == [shown]
    assert list(Post.objects.visible_to(moderator)) == [shown, hidden]


# What the moderation log names stays ------------------------------------------


def logged_topic(moderator):
    topic = make_topic()
    services.topics_set_flag(
        topics=Topic.objects.filter(pk=topic.pk),
        flag="is_locked",
        value=True,
        actor=moderator,
        reason="The question is settled.",
    )
    return topic, "topic"


def logged_post(moderator):
    post = make_post()
    services.posts_set_status(
        posts=Post.objects.filter(pk=post.pk),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Spam.",
    )
    return post, "post"


def logged_actor(moderator):
    logged_topic(moderator)
    return moderator, "actor"


def logged_suspension(moderator):
    suspension = services.user_suspend(
        user=make_user(),
        until=timezone.now() + timedelta(days=3),
        reason="Spam, twice.",
        actor=moderator,
    )
    return suspension, "suspension"


def logged_proposal(moderator):
    proposal = services.position_propose(
        topic=make_topic(),
        author=make_user(),
        claim="Nobody wins",
        disclosure=disclosure(),
        attested=True,
    )
    services.proposals_decide(
        proposals=PositionProposal.objects.filter(pk=proposal.pk),
        approve=False,
        actor=moderator,
        reason="Already covered.",
    )
    return proposal, "proposal"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "logged",
    [logged_topic, logged_post, logged_actor, logged_suspension, logged_proposal],
    ids=["topic", "post", "user who acted", "suspension", "proposal"],
)
def test_deleting_what_the_moderation_log_names_is_refused(moderator, logged):
    """The log is public and append-only: a delete would take its lines with it."""
    target, field = logged(moderator)
    lines = set(ModerationAction.objects.filter(**{field: target}))
    assert lines, "the log names nothing"
    log = list(ModerationAction.objects.values_list("pk", "action", f"{field}_id"))

    with pytest.raises(ProtectedError) as refused:
        target.delete()

    assert set(refused.value.protected_objects) == lines
    assert type(target).objects.filter(pk=target.pk).exists()
    assert (
        list(ModerationAction.objects.values_list("pk", "action", f"{field}_id")) == log
    )


@pytest.mark.django_db
def test_deleting_rows_the_moderation_log_names_in_bulk_is_refused(moderator):
    topic, _ = logged_topic(moderator)
    post, _ = logged_post(moderator)

    with pytest.raises(ProtectedError):
        Topic.objects.filter(pk__in=[topic.pk, post.topic_id]).delete()
    with pytest.raises(ProtectedError):
        get_user_model().objects.filter(pk=moderator.pk).delete()

    assert Topic.objects.filter(pk__in=[topic.pk, post.topic_id]).count() == 2
    assert Post.objects.filter(pk=post.pk).exists()
    assert get_user_model().objects.filter(pk=moderator.pk).exists()


def test_a_topic_for_its_thread_holds_what_the_orm_prefetch_reads(
    topic, user, django_assert_num_queries
):
    """Topic.objects.for_thread reads by plain SQL what thread_prefetch reads,
    in the same order, and nothing is read again when the page uses it."""
    first = topic.positions.order_by("order", "id").first()
    first.proposed_by = user
    first.save()
    later = topic.parties.create(name="Aardvark Labs", slug="aardvark-labs")
    topic.conflict_parties.add(later)
    expected = Topic.objects.prefetch_related(*Topic.thread_prefetch()).get(pk=topic.pk)

    with django_assert_num_queries(5):  # the topic, its lists, the proposer
        found = Topic.objects.for_thread(topic.pk)
    with django_assert_num_queries(0):
        positions = [(p.pk, p.slug, p.proposed_by) for p in found.positions.all()]
        parties = [p.name for p in found.parties.all()]
        tied = [p.name for p in found.conflict_parties.all()]

    assert positions == [
        (p.pk, p.slug, p.proposed_by) for p in expected.positions.all()
    ]
    assert positions[0][2] == user
    assert parties == [p.name for p in expected.parties.all()]
    assert parties[0] == "Aardvark Labs"
    assert sorted(tied) == sorted(p.name for p in expected.conflict_parties.all())
    assert "Aardvark Labs" in tied
    assert (found.title, found.body_html, found.updated) == (
        expected.title,
        expected.body_html,
        expected.updated,
    )
    assert Topic.objects.for_thread(topic.pk + 1000) is None
