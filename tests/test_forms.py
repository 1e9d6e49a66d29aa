import pytest

from forum import services
from forum.forms import PostForm, SignupForm, ThreadFilterForm
from forum.models import Post, PostStatus

from .factories import PASSWORD, make_post, make_topic, make_user, stance

ENDANGERS = "supports-ban-endangers-defenders"
NOT_ENDANGERS = "opposes-ban-endangers-defenders"
NOT_JUSTIFIED = "opposes-ban-is-justified"
CHOICE = "Select a valid choice. %s is not one of the available choices."


def form_data(**changes):
    """A complete, valid reply as the browser sends it, with `changes` applied."""
    data = {
        "body": "Defenders need these models.",
        "stances": [ENDANGERS, NOT_JUSTIFIED],
        "tags": "open source, exploits",
        "parent": "",
        "authorship": "ai_generated",
        "ai_model": "Claude",
        "ai_maker": "Anthropic",
        "affiliation": "none",
        "paid": "yes",
        "paid_by": "A think tank",
        "conflict": "declared",
        "conflict_parties": ["anthropic"],
        "conflict_details": "I hold shares.",
        "attest": "on",
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def test_complete_reply_is_valid_and_cleans_to_service_arguments(topic):
    form = PostForm(form_data(ai_model="  Claude  "), topic=topic)

    assert form.is_valid(), form.errors
    assert [s.slug for s in form.cleaned_data["stances"]] == [ENDANGERS, NOT_JUSTIFIED]
    assert form.cleaned_data["tags"] == ["exploits", "open source"]
    assert form.cleaned_data["parent"] is None
    assert form.cleaned_data["attest"] is True
    assert form.disclosure() == services.DisclosureAnswers(
        authorship="ai_generated",
        ai_model="Claude",
        ai_maker="Anthropic",
        affiliation="none",
        paid="yes",
        paid_by="A think tank",
        conflict="declared",
        conflict_details="I hold shares.",
        conflict_parties=[topic.parties.get(slug="anthropic")],
    )
    assert not Post.objects.exists()


def test_reply_to_a_visible_post_of_the_topic_is_valid(topic):
    parent = make_post(topic=topic)

    form = PostForm(form_data(parent=str(parent.pk)), topic=topic)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["parent"] == parent


def test_stance_slug_shared_by_another_topic_means_this_topics_stance(topic):
    make_topic()  # The factory gives every topic the same position slugs.

    form = PostForm(form_data(stances=[ENDANGERS]), topic=topic)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["stances"].get() == stance(topic, ENDANGERS)


# (changes to a valid reply, field, message, code)
RULES = {
    "body missing": (
        {"body": ""},
        "body",
        "Write your reply before posting.",
        "required",
    ),
    "body too long": (
        {"body": "x" * 20_001},
        "body",
        "Ensure this value has at most 20000 characters (it has 20001).",
        "max_length",
    ),
    "body NUL byte": (
        {"body": "a\x00b"},
        "body",
        "Null characters are not allowed.",
        "null_characters_not_allowed",
    ),
    "authorship missing": (
        {"authorship": None},
        "authorship",
        "Say who wrote this post.",
        "required",
    ),
    "authorship unknown": (
        {"authorship": "robot"},
        "authorship",
        CHOICE % "robot",
        "invalid_choice",
    ),
    "AI without model": (
        {"ai_model": ""},
        "ai_model",
        "Name the AI model you used, e.g. “Claude”.",
        "ai_model_required",
    ),
    "AI without maker": (
        {"authorship": "ai_polished", "ai_maker": "  "},
        "ai_maker",
        "Name the company or group that made the AI model, e.g. “Anthropic”.",
        "ai_maker_required",
    ),
    "human with model": (
        {"authorship": "human", "ai_maker": ""},
        "ai_model",
        "Leave the AI model and maker empty for a human-written post, or choose how AI was involved.",
        "ai_unexpected",
    ),
    "human with maker": (
        {"authorship": "human", "ai_model": ""},
        "ai_maker",
        "Leave the AI model and maker empty for a human-written post, or choose how AI was involved.",
        "ai_unexpected",
    ),
    "affiliation blank": (
        {"affiliation": ""},
        "affiliation",
        "Give your relevant employer or organisation, or write “none”.",
        "required",
    ),
    "affiliation whitespace": (
        {"affiliation": " \t "},
        "affiliation",
        "Give your relevant employer or organisation, or write “none”.",
        "required",
    ),
    "paid missing": (
        {"paid": None},
        "paid",
        "Say whether you are paid to post on this.",
        "required",
    ),
    "paid without payer": (
        {"paid_by": ""},
        "paid_by",
        "Say who pays you, or will, to post on this.",
        "paid_by_required",
    ),
    "pay expected without payer": (
        {"paid": "expected", "paid_by": " "},
        "paid_by",
        "Say who pays you, or will, to post on this.",
        "paid_by_required",
    ),
    "unpaid with payer": (
        {"paid": "no"},
        "paid_by",
        "Leave “paid by” empty when you are not paid, or change your answer above.",
        "paid_by_unexpected",
    ),
    "conflict missing": (
        {"conflict": None},
        "conflict",
        "Say whether you have a conflict of interest.",
        "required",
    ),
    "conflict without parties": (
        {"conflict_parties": []},
        "conflict_parties",
        "Choose the party or parties your conflict of interest involves.",
        "conflict_parties_required",
    ),
    "conflict without details": (
        {"conflict_details": "  "},
        "conflict_details",
        "Describe the conflict of interest in a sentence or two.",
        "conflict_details_required",
    ),
    "no conflict with parties": (
        {"conflict": "none", "conflict_details": ""},
        "conflict",
        "Choose “declared” to name a conflict, or clear its parties and details.",
        "conflict_unexpected",
    ),
    "no conflict with details": (
        {"conflict": "none", "conflict_parties": []},
        "conflict",
        "Choose “declared” to name a conflict, or clear its parties and details.",
        "conflict_unexpected",
    ),
    "party of another topic": (
        {"conflict_parties": ["anthropic", "amazon"]},
        "conflict_parties",
        CHOICE % "amazon",
        "invalid_choice",
    ),
    "no stance": (
        {"stances": []},
        "stances",
        "Choose at least one stance: say where this reply stands.",
        "required",
    ),
    "stance of another topic": (
        {"stances": [ENDANGERS, "supports-export-rules-work"]},
        "stances",
        CHOICE % "supports-export-rules-work",
        "invalid_choice",
    ),
    "both polarities": (
        {"stances": [ENDANGERS, NOT_ENDANGERS]},
        "stances",
        "A reply cannot both support and oppose “The ban endangers defenders”.",
        "stance_contradiction",
    ),
    "not attested": (
        {"attest": None},
        "attest",
        "Confirm that your disclosure is complete and accurate.",
        "required",
    ),
    "too many tags": (
        {"tags": ", ".join(f"tag{i}" for i in range(11))},
        "tags",
        "Use at most 10 keyword tags.",
        "tags_too_many",
    ),
    "tag too long": (
        {"tags": "short, " + "z" * 51},
        "tags",
        "Keep each keyword tag to 50 characters (“zzzzzzzzzzzzzzzzzzzz…” is longer).",
        "tag_too_long",
    ),
    "tags field too long": (
        {"tags": "a," * 301},
        "tags",
        "Ensure this value has at most 600 characters (it has 602).",
        "max_length",
    ),
    "parent missing": (
        {"parent": "424242"},
        "parent",
        "That post does not exist.",
        "parent_missing",
    ),
    "parent largest id": (
        {"parent": str(2**63 - 1)},
        "parent",
        "That post does not exist.",
        "parent_missing",
    ),
    "parent huge id": (
        {"parent": "9" * 40},
        "parent",
        "Ensure this value is less than or equal to 9223372036854775807.",
        "max_value",
    ),
    "parent zero": (
        {"parent": "0"},
        "parent",
        "Ensure this value is greater than or equal to 1.",
        "min_value",
    ),
    "parent not a number": (
        {"parent": "abc"},
        "parent",
        "Enter a whole number.",
        "invalid",
    ),
}


@pytest.mark.parametrize(
    ("changes", "field", "message", "code"),
    [
        pytest.param(
            *case,
            id=name,
        )
        for name, case in RULES.items()
    ],
)
def test_reply_breaking_a_rule_is_explained_at_its_field(
    topic, other_topic, changes, field, message, code
):
    form = PostForm(form_data(**changes), topic=topic)

    assert not form.is_valid()
    assert form.errors[field] == [message]
    assert form.has_error(field, code)
    assert not Post.objects.exists()


def test_reply_to_a_post_of_another_topic_is_rejected(topic, other_topic):
    elsewhere = make_post(topic=other_topic, stances=[stance(other_topic)])

    form = PostForm(form_data(parent=str(elsewhere.pk)), topic=topic)

    assert not form.is_valid()
    assert form.errors["parent"] == ["You can only reply to a post in this topic."]
    assert form.has_error("parent", "parent_foreign")


def test_reply_to_a_hidden_post_is_rejected(topic):
    hidden = make_post(topic=topic)
    services.posts_set_status(
        posts=Post.objects.filter(pk=hidden.pk),
        status=PostStatus.HIDDEN,
        actor=None,
        reason="Test reason.",
    )

    form = PostForm(form_data(parent=str(hidden.pk)), topic=topic)

    assert not form.is_valid()
    assert form.errors["parent"] == [
        "That post was hidden by moderators; reply to the topic instead."
    ]
    assert form.has_error("parent", "parent_hidden")


def test_every_problem_is_reported_at_once(topic):
    data = form_data(ai_model="", paid_by="", conflict_parties=[], attest=None)

    form = PostForm(data, topic=topic)

    assert not form.is_valid()
    assert sorted(form.errors) == ["ai_model", "attest", "conflict_parties", "paid_by"]


def test_choice_fields_offer_no_blank_option(topic):
    form = PostForm(topic=topic)

    assert [value for value, _ in form.fields["authorship"].choices] == [
        "human",
        "ai_polished",
        "ai_assisted",
        "ai_generated",
    ]
    assert [value for value, _ in form.fields["paid"].choices] == [
        "no",
        "yes",
        "expected",
    ]
    assert [value for value, _ in form.fields["conflict"].choices] == [
        "none",
        "declared",
    ]


def test_form_offers_only_this_topics_stances_and_parties(topic, other_topic):
    form = PostForm(topic=topic)

    assert [s.slug for s in form.fields["stances"].queryset] == [
        "supports-ban-endangers-defenders",
        "opposes-ban-endangers-defenders",
        "supports-ban-is-justified",
        "opposes-ban-is-justified",
    ]
    assert sorted(p.slug for p in form.fields["conflict_parties"].queryset) == [
        "anthropic",
        "us-government",
    ]


# Thread filters -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"stance": "supports-nothing"},
            "stance",
            "There is no such stance in this topic.",
        ),
        (
            {"stance": "supports-export-rules-work"},
            "stance",
            "There is no such stance in this topic.",
        ),
        (
            {"authorship": "robot"},
            "authorship",
            "Choose a kind of authorship from the list.",
        ),
    ],
)
def test_thread_filter_rejects_values_outside_the_topic(
    topic, other_topic, data, field, message
):
    form = ThreadFilterForm(data, topic=topic)

    assert not form.is_valid()
    assert form.errors[field] == [message]


def test_thread_filter_keeps_posts_with_the_stance_and_authorship(topic):
    ai = {"authorship": "ai_polished", "ai_model": "Claude", "ai_maker": "Anthropic"}
    make_post(topic=topic, stances=[stance(topic, ENDANGERS)])
    wanted = make_post(topic=topic, stances=[stance(topic, ENDANGERS)], **ai)
    make_post(topic=topic, stances=[stance(topic, NOT_JUSTIFIED)], **ai)
    form = ThreadFilterForm(
        {"stance": ENDANGERS, "authorship": "ai_polished"}, topic=topic
    )

    assert form.is_valid()
    assert list(form.filter(Post.objects.all())) == [wanted]


# Sign-up ---------------------------------------------------------------------


def test_signup_form_rejects_a_taken_username(db):
    make_user(username="ada")

    form = SignupForm({"username": "ada", "password1": PASSWORD, "password2": PASSWORD})

    assert not form.is_valid()
    assert form.errors["username"] == ["A user with that username already exists."]


def test_signup_form_rejects_mismatched_passwords(db):
    form = SignupForm(
        {"username": "ada", "password1": PASSWORD, "password2": PASSWORD + "!"}
    )

    assert not form.is_valid()
    assert form.errors["password2"] == ["The two password fields didn’t match."]
