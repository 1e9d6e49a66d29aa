"""Text typed to deceive: direction controls, invisible "answers", look-alike tags.

Each wall is tried at the front door (the forms, through the test client) and
again at the services, which every other edge (admin, seeder, API) goes through.
"""

import io
import re
import unicodedata
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from taggit.models import Tag

from forum import services
from forum.models import PositionProposal, Post, Report, Topic

from .browser_form import form_values
from .factories import (
    PASSWORD,
    disclosure,
    edit_post,
    error_codes,
    make_post,
    make_user,
    stance,
)
from .pages import (
    TIED_DISCLOSURE,
    field_errors,
    page,
    post_block,
    reply_data,
    reply_url,
    signed_in,
    squash,
)

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: what follows it reads backwards
BIDI_CONTROLS = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
CONTROLS = "(U+202A–U+202E, U+2066–U+2069)"
BIDI_ANSWER = (
    f"Remove the invisible direction-control characters {CONTROLS} from this answer."
)
BIDI_TAGS = (
    f"Remove the invisible direction-control characters {CONTROLS} from your "
    "keyword tags."
)
BIDI_CLAIM = (
    f"Remove the invisible direction-control characters {CONTROLS} from the claim."
)
BIDI_USERNAME = (
    f"Remove the invisible direction-control characters {CONTROLS} from your username."
)
BODY_REQUIRED = "Write your reply before posting."
CLAIM_REQUIRED = "State the claim people would take sides on."
NOTE_REQUIRED = "Say what is wrong with the post when the reason is “something else”."

# The disclosure's text answers the strip shows, each relevant in TIED_DISCLOSURE.
STRIP_FIELDS = ["ai_model", "ai_maker", "affiliation", "paid_by", "conflict_details"]
# Answers every one of them needs (AI used, paid, a declared conflict).
TIED = {
    "authorship": "ai_assisted",
    "ai_model": "Claude",
    "ai_maker": "Anthropic",
    "paid": "expected",
    "paid_by": "A think tank",
    "conflict": "declared",
    "conflict_details": "I advise both on export rules.",
}

# Text a reader sees as nothing: spaces, zero-width and other format
# characters, Hangul and braille blanks, entities that decode to those.
INVISIBLE = {
    "zero-width spaces": "\u200b\u200b",
    "zero-width joiner": "\u200d",
    "byte-order mark": "\ufeff",
    "word joiner and soft hyphen": "\u2060\u00ad",
    "direction override alone": RLO,
    "hangul filler": "\u3164",
    "hangul choseong and jungseong fillers": "\u115f\u1160",
    "halfwidth hangul filler": "\uffa0",
    "braille blank": "\u2800",
    "ideographic and no-break spaces with a zero-width space": "\u3000\u00a0\u200b",
}
INVISIBLE_BODIES = {
    **INVISIBLE,
    "line and paragraph separators": "\u2028\u2029",
    "no-break space entity": "&nbsp;",
    "zero-width space entity": "&#8203;",
    "zero-width joiner entities": "&zwj;&#x200D;",
    "entities and blanks mixed": "&nbsp; \u200b &#xFEFF;\n\n&ZeroWidthSpace;",
}

# Writing that uses the same characters for real, and must pass untouched.
LEGIT = {
    "emoji with zero-width joiners": "Our family 👩\u200d👩\u200d👧 and 🏳️\u200d🌈 agree.",
    "arabic": "الأمن السيبراني يحتاج إلى هذه النماذج.",
    "hebrew": "המודלים האלה נחוצים למגינים.",
    "combining accents": "Cafe\u0301 and nai\u0308ve re\u0301sume\u0301s.",
    "persian with a zero-width non-joiner": "می\u200cخواهم بدانم.",
    "devanagari with a zero-width joiner": "क्\u200dष सुरक्षा",
    "left-to-right and right-to-left marks": "Tel Aviv \u200fתל אביב\u200f here.",
}


# Helpers -----------------------------------------------------------------


def form_of(response, action: str) -> dict[str, list[str]]:
    """What the form posting to `action` would send back: its non-empty values."""
    match = re.search(
        rf'<form[^>]*action="{re.escape(action)}".*?</form>', page(response), re.S
    )
    assert match, f"no form posting to {action}"
    return {
        name: values
        for name, values in form_values(match.group(0)).items()
        if values != [""] and name != "csrfmiddlewaretoken"
    }


def create(topic, **changes):
    """services.post_create's arguments for a valid reply, with `changes` applied."""
    answers = {**TIED, **changes.pop("answers", {})}
    arguments = {
        "topic": topic,
        "author": make_user(),
        "body": "Defenders need these models.",
        "stances": [stance(topic)],
        "disclosure": disclosure(
            **answers, conflict_parties=[topic.parties.get(slug="anthropic")]
        ),
        "attested": True,
        **changes,
    }
    return arguments


def propose(topic, **changes):
    arguments = {
        "topic": topic,
        "author": make_user(),
        "claim": "Defenders should be exempt",
        "attested": True,
        "disclosure": disclosure(),
        **changes,
    }
    return services.position_propose(**arguments)


def disclosure_strip(html: str) -> str:
    return re.search(r'<p class="disclosure[^"]*">.*?</p>', html, re.S).group(0)


@pytest.fixture
def poster(user):
    return signed_in(user)


# 1. Direction controls -----------------------------------------------------


@pytest.mark.parametrize("field", STRIP_FIELDS)
def test_reply_form_refuses_direction_controls_in_each_strip_answer_and_keeps_it(
    poster, topic, field
):
    typed = f"{TIED_DISCLOSURE[field]}{RLO} is a party to this debate"
    data = reply_data(**{field: typed})

    response = poster.post(reply_url(topic), data)

    assert response.status_code == 200
    assert not Post.objects.exists()
    assert field_errors(response, field) == [BIDI_ANSWER]
    assert form_of(response, reply_url(topic))[field] == [typed]


@pytest.mark.parametrize("control", BIDI_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_affiliation_with_any_direction_control_is_refused(poster, topic, control):
    response = poster.post(reply_url(topic), reply_data(affiliation=f"none{control}"))

    assert field_errors(response, "affiliation") == [BIDI_ANSWER]
    assert not Post.objects.exists()


@pytest.mark.parametrize("field", STRIP_FIELDS)
def test_services_refuse_direction_controls_in_each_strip_answer(topic, field):
    answers = {field: f"Acme{RLO}Corp"}
    if field == "affiliation":
        answers["affiliation"] = f"none{RLO}"

    with pytest.raises(ValidationError) as excinfo:
        services.post_create(**create(topic, answers=answers))

    assert error_codes(excinfo) == {field: ["bidi_control"]}
    assert excinfo.value.message_dict[field] == [BIDI_ANSWER]
    assert not Post.objects.exists()


def test_edit_proposal_and_topic_services_refuse_direction_controls(topic, user):
    post = make_post(topic=topic)
    hostile = disclosure(affiliation=f"none{RLO}")

    for write in (
        lambda: edit_post(post, disclosure=hostile),
        lambda: propose(topic, disclosure=hostile),
        lambda: services.topic_save(topic=topic, disclosure=hostile),
    ):
        with pytest.raises(ValidationError) as excinfo:
            write()
        assert error_codes(excinfo) == {"affiliation": ["bidi_control"]}

    assert Post.objects.get().affiliation == "none"
    assert not PositionProposal.objects.exists()
    assert Topic.objects.get().affiliation == "none"


def test_topic_admin_form_refuses_direction_controls_in_the_article_disclosure(
    admin_client, topic
):
    url = f"/admin/forum/topic/{topic.pk}/change/"
    form = re.search(
        r'<form [^>]*id="topic_form".*?</form>', page(admin_client.get(url)), re.S
    )
    data = {
        name: values if len(values) > 1 else values[0]
        for name, values in form_values(form.group(0)).items()
        if "__prefix__" not in name
    }

    response = admin_client.post(url, {**data, "affiliation": f"none{RLO}"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["affiliation"] == [BIDI_ANSWER]
    assert Topic.objects.get(pk=topic.pk).affiliation == "none"


def test_tag_with_direction_controls_is_refused_by_form_and_service(poster, topic):
    data = reply_data(tags=f"open source, exploit{RLO}s")

    response = poster.post(reply_url(topic), data)

    assert field_errors(response, "tags") == [BIDI_TAGS]
    assert form_of(response, reply_url(topic))["tags"] == [data["tags"]]
    with pytest.raises(ValidationError) as excinfo:
        services.post_create(**create(topic, tags=["\u2067exploits\u2069"]))
    assert error_codes(excinfo) == {"tags": ["bidi_control"]}
    assert not Post.objects.exists()
    assert not Tag.objects.exists()


def test_proposal_claim_with_direction_controls_is_refused_by_form_and_service(
    topic, user
):
    url = f"/t/{topic.slug}/positions/propose/"
    claim = f"Defenders should be {RLO}exempt"
    data = {"claim": claim, "summary": "", "quote": "", **TIED_DISCLOSURE}

    response = signed_in(user).post(url, data)

    assert response.status_code == 200
    assert field_errors(response, "claim") == [BIDI_CLAIM]
    assert form_of(response, url)["claim"] == [claim]
    with pytest.raises(ValidationError) as excinfo:
        propose(topic, claim=claim)
    assert error_codes(excinfo) == {"claim": ["bidi_control"]}
    assert not PositionProposal.objects.exists()


def test_parts_saved_through_topic_save_parts_refuse_direction_controls(topic):
    position = topic.positions.get(slug="ban-is-justified")
    position.claim = f"The ban is {RLO}justified"
    party = topic.parties.get(slug="anthropic")
    party.aliases = "Anthropic PBC, \u2066Claude's maker"

    with pytest.raises(ValidationError) as excinfo:
        services.topic_save_parts(topic=topic, saved=[position], deleted=[])
    assert error_codes(excinfo) == {"claim": ["bidi_control"]}
    assert excinfo.value.message_dict["claim"] == [BIDI_CLAIM]
    with pytest.raises(ValidationError) as excinfo:
        services.topic_save_parts(topic=topic, saved=[party], deleted=[])
    assert error_codes(excinfo) == {"aliases": ["bidi_control"]}

    assert topic.positions.get(slug="ban-is-justified").claim == "The ban is justified"
    assert topic.parties.get(slug="anthropic").aliases == "Anthropic PBC"


SEED = Path(settings.BASE_DIR) / "seeds" / "us-export-controls-frontier-ai.toml"


@pytest.fixture
def seed_copy(tmp_path):
    """A copy of the real seed file, to edit."""
    path = tmp_path / SEED.name
    path.write_bytes(SEED.read_bytes())
    return path


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('ai_model = "Claude"', f'ai_model = "Claude{RLO}"'),
        ('affiliation = "Anthropic (', 'affiliation = "\\u202EAnthropic ('),
        ('name = "Amazon"', 'name = "Amazon\\U00002066"'),
        ('"Anthropic PBC"', f'"Anthropic{RLO} PBC"'),
        ('claim = "The ban endangers', f'claim = "The ban {RLO}endangers'),
    ],
    ids=["typed", "escaped", "long escape", "alias", "claim"],
)
def test_seed_file_with_direction_controls_is_refused_naming_the_line(
    seed_copy, old, new
):
    text = seed_copy.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    before, _, _ = text.partition(old)
    line = before.count("\n") + 1
    seed_copy.write_text(text.replace(old, new), encoding="utf-8")

    with pytest.raises(CommandError) as excinfo:
        call_command("seed", str(seed_copy), stdout=io.StringIO())

    message = str(excinfo.value)
    assert message.startswith(f"{seed_copy}:{line}: "), message
    assert "direction-control character (U+" in message
    assert not Topic.objects.exists()


def test_signup_refuses_direction_controls_in_the_username_with_its_own_message(db):
    client = Client()
    username = f"ada{RLO}nimda"

    response = client.post(
        "/accounts/signup/",
        {"username": username, "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 200
    assert field_errors(response, "username") == [BIDI_USERNAME]
    assert form_of(response, "/accounts/signup/")["username"] == [username]
    assert not get_user_model().objects.exists()


def test_strip_isolates_every_typed_value_in_bdi_keeping_its_words(
    client, topic, moderator
):
    post = make_post(
        topic=topic,
        **{**TIED, "ai_maker": "Anthropic PBC", "affiliation": "Acme Labs"},
        conflict_parties=list(topic.parties.all()),
        tags=["open source"],
    )
    services.posts_review(
        posts=Post.objects.filter(pk=post.pk),
        state="verified",
        actor=moderator,
        note="Checked with Acme.",
    )

    strip = disclosure_strip(post_block(client.get(f"/t/{topic.slug}/"), post))

    for value in (
        "Claude",
        "Anthropic PBC",
        "Anthropic",
        "Acme Labs",
        "A think tank",
        "US government",
        "I advise both on export rules.",
        "Checked with Acme.",
    ):
        assert f"<bdi>{value}</bdi>" in strip, value
    assert squash(strip).startswith(
        "Disclosure: AI-assisted with Claude (Anthropic PBC) — Anthropic is a party "
        "to this debate · Affiliation: Acme Labs · Expects pay from A think tank · "
        "Declared conflict with Anthropic, US government: I advise both on export "
        "rules. · Verified by moderators on "
    )
    assert squash(strip).endswith(": Checked with Acme.")


def test_tags_and_history_diff_isolate_typed_values(client, topic):
    post = make_post(topic=topic, tags=["open source"])
    edit_post(post, affiliation="Acme Labs", reason="Joined Acme.")

    thread = post_block(client.get(f"/t/{topic.slug}/"), post)
    history = page(client.get(f"/p/{post.pk}/history/"))

    assert "<li>#<bdi>open source</bdi></li>" in thread
    assert (
        "<dt>Affiliation</dt><dd><del><bdi>none</bdi></del> → "
        "<ins><bdi>Acme Labs</bdi></ins></dd>"
    ) in history


# 2. Empty to a reader is empty -----------------------------------------------


@pytest.mark.parametrize("field", STRIP_FIELDS)
@pytest.mark.parametrize("blank", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_invisible_only_answer_is_refused_like_an_empty_one(
    poster, topic, field, blank
):
    empty = poster.post(reply_url(topic), reply_data(**{field: ""}))

    response = poster.post(reply_url(topic), reply_data(**{field: blank}))

    assert response.status_code == 200
    assert not Post.objects.exists()
    assert field_errors(response, field) == field_errors(empty, field)
    assert len(field_errors(empty, field)) == 1


@pytest.mark.parametrize("blank", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_disclosure_answers_treat_an_invisible_answer_as_empty(topic, blank):
    answers = disclosure(affiliation=blank, paid="yes", paid_by=blank)

    assert (answers.affiliation, answers.paid_by) == ("", "")
    with pytest.raises(ValidationError) as excinfo:
        services.post_create(**create(topic, disclosure=answers))
    assert error_codes(excinfo) == {
        "affiliation": ["affiliation_required"],
        "paid_by": ["paid_by_required"],
    }


@pytest.mark.parametrize("body", INVISIBLE_BODIES.values(), ids=INVISIBLE_BODIES.keys())
def test_reply_body_a_reader_sees_as_empty_is_refused(poster, topic, body):
    response = poster.post(reply_url(topic), reply_data(body=body))

    assert response.status_code == 200
    assert field_errors(response, "body") == [BODY_REQUIRED]
    with pytest.raises(ValidationError) as excinfo:
        services.post_create(**create(topic, body=body))
    assert excinfo.value.message_dict == {"body": [BODY_REQUIRED]}
    assert error_codes(excinfo) == {"body": ["body_required"]}
    assert not Post.objects.exists()


def test_edit_to_an_invisible_body_is_refused_by_form_and_service(topic, user):
    post = make_post(topic=topic, author=user, body="Defenders lose tools.")
    data = {
        **reply_data(body="&nbsp;\u200b", tags="", conflict_parties=["anthropic"]),
        "reason": "",
    }

    response = signed_in(user).post(f"/p/{post.pk}/edit/", data)

    assert response.status_code == 200
    assert field_errors(response, "body") == [BODY_REQUIRED]
    with pytest.raises(ValidationError) as excinfo:
        edit_post(post, body="\ufeff")
    assert error_codes(excinfo) == {"body": ["body_required"]}
    assert Post.objects.get().body == "Defenders lose tools."


@pytest.mark.parametrize("blank", ["\u200b\u200b", "\u3164", "\u2800 \ufeff"])
def test_invisible_claim_is_refused_like_an_empty_one(topic, user, blank):
    url = f"/t/{topic.slug}/positions/propose/"
    data = {"claim": blank, "summary": "", "quote": "", **TIED_DISCLOSURE}

    response = signed_in(user).post(url, data)

    assert field_errors(response, "claim") == [CLAIM_REQUIRED]
    with pytest.raises(ValidationError) as excinfo:
        propose(topic, claim=blank)
    assert error_codes(excinfo) == {"claim": ["claim_required"]}
    assert not PositionProposal.objects.exists()


def test_invisible_report_note_is_refused_when_a_note_is_required(topic, user):
    post = make_post(topic=topic)

    response = signed_in(user).post(
        f"/p/{post.pk}/report/", {"reason": "other", "note": "\u200b\u3164"}
    )

    assert field_errors(response, "note") == [NOTE_REQUIRED]
    with pytest.raises(ValidationError) as excinfo:
        services.report_create(
            post=post, reporter=user, reason="other", note="\u2800\u200d"
        )
    assert error_codes(excinfo) == {"note": ["note_required"]}
    assert not Report.objects.exists()


@pytest.mark.parametrize("text", LEGIT.values(), ids=LEGIT.keys())
def test_real_writing_with_joiners_marks_and_accents_survives_unchanged(
    poster, topic, user, text
):
    data = reply_data(body=text, affiliation=text, conflict_details=text, tags="")

    response = poster.post(reply_url(topic), data)

    assert response.status_code == 302, field_errors(response, "body")
    post = Post.objects.get()
    assert post.body == post.affiliation == post.conflict_details == text
    assert text in post.body_html
    proposal = propose(topic, claim=text, author=user)
    assert proposal.claim == text


# 3. One word, one tag -------------------------------------------------------


RESUME_COMPOSED = unicodedata.normalize("NFC", "résumé")
RESUME_DECOMPOSED = unicodedata.normalize("NFD", "résumé")


def test_composed_and_decomposed_spellings_make_one_tag_through_the_form(topic, user):
    assert RESUME_COMPOSED != RESUME_DECOMPOSED

    first = signed_in(user).post(reply_url(topic), reply_data(tags=RESUME_DECOMPOSED))
    second = signed_in(make_user()).post(
        reply_url(topic),
        reply_data(tags=f"{RESUME_COMPOSED.upper()}, ＲＥＳＵＭＥ"),  # full-width
    )

    assert (first.status_code, second.status_code) == (302, 302)
    assert list(Tag.objects.order_by("pk").values_list("name", flat=True)) == [
        RESUME_COMPOSED,
        "RESUME",
    ]
    names = [sorted(post.tags.names()) for post in Post.objects.order_by("pk")]
    assert names == [[RESUME_COMPOSED], ["RESUME", RESUME_COMPOSED]]


def test_services_match_tags_by_their_normal_form_and_keep_the_oldest_spelling(
    topic,
):
    first = services.post_create(**create(topic, tags=[RESUME_COMPOSED]))
    second = services.post_create(
        **create(topic, tags=[RESUME_DECOMPOSED, RESUME_DECOMPOSED.title()])
    )
    edited = edit_post(first, tags=["\u2126hm", "RÉSUMÉ"])  # OHM SIGN: NFKC Ω

    assert Tag.objects.count() == 2
    assert list(second.tags.names()) == [RESUME_COMPOSED]
    assert sorted(edited.tags.names()) == sorted(["\u03a9hm", RESUME_COMPOSED])


@pytest.mark.parametrize("tag", ["!!!", "\\", "-_-", "#"])
def test_tag_with_no_letters_or_digits_is_refused_naming_it(poster, topic, tag):
    message = f"Use letters or digits in each keyword tag: “{tag}” has none."

    response = poster.post(reply_url(topic), reply_data(tags=f"open source, {tag}"))

    assert response.status_code == 200
    assert field_errors(response, "tags") == [message]
    with pytest.raises(ValidationError) as excinfo:
        services.post_create(**create(topic, tags=["exploits", tag]))
    assert error_codes(excinfo) == {"tags": ["tag_no_word"]}
    assert excinfo.value.message_dict["tags"] == [message]
    assert not Post.objects.exists()
    assert not Tag.objects.exists()


@pytest.mark.django_db
def test_the_sign_up_service_refuses_direction_controls_without_its_form():
    with pytest.raises(ValidationError) as refused:
        services.user_signup(username="ada\u202eevil", password="a long password 1")

    assert error_codes(refused) == {"username": ["bidi_control"]}
    assert not get_user_model().objects.filter(username__startswith="ada").exists()
