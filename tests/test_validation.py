"""The rules every contribution meets (forum.services.validation), tried directly."""

import pytest
from django.core.exceptions import ValidationError

from forum import services
from forum.models import Post, PostStatus

from .factories import HUMAN_DISCLOSURE, error_codes, make_post, make_topic, stance


def disclosure(topic, **changes):
    """validate_disclosure's arguments for a valid human, unpaid, conflict-free
    disclosure, with `changes` applied.

    `conflict_parties` names parties as "own" (this topic's) or "foreign".
    """
    parties = {
        "own": lambda: topic.parties.get(slug="anthropic"),
        "foreign": lambda: make_topic().parties.get(slug="anthropic"),
    }
    names = changes.pop("conflict_parties", [])
    answers = services.DisclosureAnswers(
        **{**HUMAN_DISCLOSURE, **changes},
        conflict_parties=[parties[name]() for name in names],
    )
    return {"topic": topic, "disclosure": answers}


REJECTED_DISCLOSURES = {
    "authorship empty": ({"authorship": ""}, "authorship", "authorship_required"),
    "authorship unknown": ({"authorship": "bot"}, "authorship", "authorship_required"),
    "human with ai model": ({"ai_model": "Claude"}, "ai_model", "ai_unexpected"),
    "human with ai maker": ({"ai_maker": "Anthropic"}, "ai_maker", "ai_unexpected"),
    "ai without model": (
        {"authorship": "ai_assisted", "ai_maker": "Anthropic"},
        "ai_model",
        "ai_model_required",
    ),
    "ai with blank model": (
        {"authorship": "ai_polished", "ai_model": " \t", "ai_maker": "Anthropic"},
        "ai_model",
        "ai_model_required",
    ),
    "ai without maker": (
        {"authorship": "ai_generated", "ai_model": "Claude", "ai_maker": "\n"},
        "ai_maker",
        "ai_maker_required",
    ),
    "affiliation blank": (
        {"affiliation": " \t"},
        "affiliation",
        "affiliation_required",
    ),
    "paid empty": ({"paid": ""}, "paid", "paid_required"),
    "paid unknown": ({"paid": "sometimes"}, "paid", "paid_required"),
    "unpaid with payer": ({"paid_by": "Acme"}, "paid_by", "paid_by_unexpected"),
    "paid without payer": ({"paid": "yes"}, "paid_by", "paid_by_required"),
    "pay expected with blank payer": (
        {"paid": "expected", "paid_by": "  "},
        "paid_by",
        "paid_by_required",
    ),
    "conflict empty": ({"conflict": ""}, "conflict", "conflict_required"),
    "conflict unknown": ({"conflict": "maybe"}, "conflict", "conflict_required"),
    "no conflict with details": (
        {"conflict_details": "I work there."},
        "conflict",
        "conflict_unexpected",
    ),
    "no conflict with parties": (
        {"conflict_parties": ["own"]},
        "conflict",
        "conflict_unexpected",
    ),
    "declared conflict without parties": (
        {"conflict": "declared", "conflict_details": "I work there."},
        "conflict_parties",
        "conflict_parties_required",
    ),
    "declared conflict with another topic's party": (
        {
            "conflict": "declared",
            "conflict_parties": ["foreign"],
            "conflict_details": "I work there.",
        },
        "conflict_parties",
        "conflict_party_foreign",
    ),
    "declared conflict without details": (
        {"conflict": "declared", "conflict_parties": ["own"], "conflict_details": " "},
        "conflict_details",
        "conflict_details_required",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "code"),
    REJECTED_DISCLOSURES.values(),
    ids=REJECTED_DISCLOSURES.keys(),
)
def test_validate_disclosure_rejects_each_broken_rule(topic, changes, field, code):
    with pytest.raises(ValidationError) as excinfo:
        services.validate_disclosure(**disclosure(topic, **changes))

    assert error_codes(excinfo) == {field: [code]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"authorship": "ai_generated", "ai_model": "Claude", "ai_maker": "Anthropic"},
        {"authorship": "ai_polished", "ai_model": "DeepL", "ai_maker": "DeepL SE"},
        {"affiliation": "Bugcrowd", "paid": "yes", "paid_by": "Bugcrowd"},
        {"paid": "expected", "paid_by": "A think tank"},
        {
            "conflict": "declared",
            "conflict_parties": ["own"],
            "conflict_details": "I hold Anthropic shares.",
        },
    ],
    ids=["human", "ai generated", "ai polished", "paid", "pay expected", "conflict"],
)
def test_validate_disclosure_accepts_a_complete_disclosure_and_it_is_stored(
    topic, changes
):
    arguments = disclosure(topic, **changes)

    assert services.validate_disclosure(**arguments) is None
    post = make_post(topic=topic, disclosure=arguments["disclosure"])
    assert services.DisclosureAnswers.of(post) == arguments["disclosure"]


@pytest.mark.django_db
def test_validate_disclosure_reports_every_problem_at_once(topic):
    broken = disclosure(
        topic,
        authorship="ai_generated",
        affiliation="",
        paid="yes",
        conflict="declared",
    )

    with pytest.raises(ValidationError) as excinfo:
        services.validate_disclosure(**broken)

    assert error_codes(excinfo) == {
        "ai_model": ["ai_model_required"],
        "ai_maker": ["ai_maker_required"],
        "affiliation": ["affiliation_required"],
        "paid_by": ["paid_by_required"],
        "conflict_parties": ["conflict_parties_required"],
        "conflict_details": ["conflict_details_required"],
    }
    assert excinfo.value.message_dict["affiliation"] == [
        "Give your relevant employer or organisation, or write “none”."
    ]
    assert excinfo.value.message_dict["ai_model"] == [
        "Name the AI model you used, e.g. “Claude”."
    ]


@pytest.mark.django_db
def test_validate_stances_requires_at_least_one(topic):
    with pytest.raises(ValidationError) as excinfo:
        services.validate_stances(topic=topic, stances=[])

    assert error_codes(excinfo) == {"stances": ["stances_required"]}
    assert excinfo.value.message_dict["stances"] == [
        "Choose at least one stance: say where this reply stands."
    ]


@pytest.mark.django_db
def test_validate_stances_rejects_another_topics_stance(topic):
    other = make_topic()

    with pytest.raises(ValidationError) as excinfo:
        services.validate_stances(topic=topic, stances=[stance(topic), stance(other)])

    assert error_codes(excinfo) == {"stances": ["stance_foreign"]}


@pytest.mark.django_db
def test_validate_stances_rejects_both_sides_of_one_position(topic):
    both = [
        stance(topic, "supports-ban-is-justified"),
        stance(topic, "opposes-ban-is-justified"),
    ]

    with pytest.raises(ValidationError) as excinfo:
        services.validate_stances(topic=topic, stances=both)

    assert error_codes(excinfo) == {"stances": ["stance_contradiction"]}
    assert excinfo.value.message_dict["stances"] == [
        "A reply cannot both support and oppose “The ban is justified”."
    ]


@pytest.mark.django_db
def test_validate_stances_accepts_sides_on_several_positions(topic):
    sides = [
        stance(topic, "supports-ban-endangers-defenders"),
        stance(topic, "opposes-ban-is-justified"),
    ]

    assert services.validate_stances(topic=topic, stances=sides) is None
    post = make_post(topic=topic, stances=sides)
    assert set(post.stances.all()) == set(sides)


@pytest.mark.django_db
def test_validate_parent_accepts_no_parent_or_a_published_post_of_the_topic(topic):
    parent = make_post(topic=topic)

    assert services.validate_parent(topic=topic, parent=None) is None
    assert services.validate_parent(topic=topic, parent=parent) is None
    assert make_post(topic=topic, parent=parent).parent == parent


@pytest.mark.django_db
def test_validate_parent_rejects_another_topics_post(topic):
    with pytest.raises(ValidationError) as excinfo:
        services.validate_parent(topic=topic, parent=make_post())

    assert error_codes(excinfo) == {"parent": ["parent_foreign"]}


@pytest.mark.django_db
def test_validate_parent_rejects_a_hidden_post(topic):
    parent = make_post(topic=topic)
    services.posts_set_status(
        posts=Post.objects.all(),
        status=PostStatus.HIDDEN,
        actor=None,
        reason="Test reason.",
    )
    parent.refresh_from_db()

    with pytest.raises(ValidationError) as excinfo:
        services.validate_parent(topic=topic, parent=parent)

    assert error_codes(excinfo) == {"parent": ["parent_hidden"]}


@pytest.mark.django_db
def test_validate_parent_rejects_the_post_itself(topic):
    post = make_post(topic=topic)

    with pytest.raises(ValidationError) as excinfo:
        services.validate_parent(topic=topic, parent=post, post=post)

    assert error_codes(excinfo) == {"parent": ["parent_self"]}


@pytest.mark.django_db
def test_validate_keywords_accepts_ten_tags_of_fifty_characters():
    names = [f"{n}".ljust(50, "x") for n in range(10)]

    assert services.validate_keywords(names=names) is None
    assert sorted(make_post(tags=names).tags.names()) == sorted(names)


def test_validate_keywords_rejects_more_than_ten_tags():
    with pytest.raises(ValidationError) as excinfo:
        services.validate_keywords(names=[f"tag{n}" for n in range(11)])

    assert error_codes(excinfo) == {"tags": ["tags_too_many"]}
    assert excinfo.value.message_dict["tags"] == ["Use at most 10 keyword tags."]


def test_validate_keywords_rejects_a_tag_over_fifty_characters():
    with pytest.raises(ValidationError) as excinfo:
        services.validate_keywords(names=["short", "y" * 51])

    assert error_codes(excinfo) == {"tags": ["tag_too_long"]}
