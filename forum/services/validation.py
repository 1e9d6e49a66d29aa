"""The rules a contribution must meet, each raising ValidationError by field.

Forms call these in `clean()`, so people see each problem beside its field;
the services call them again inside the writing transaction, so the admin, the
seeder and the shell are held to the same rules as the site. Each error has a
`code` and a message the person can act on.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import unescape

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import strip_tags

from ..markup import render_markdown
from ..models import (
    DISCLOSURE_TEXT_FIELDS,
    INTERESTS_MAX_LENGTH,
    REASON_MAX_LENGTH,
    Agent,
    Authorship,
    Conflict,
    Paid,
    Party,
    Position,
    PositionProposal,
    Post,
    PostStatus,
    ProposalStatus,
    ReportReason,
    Stance,
    Topic,
)
from ..text import has_bidi_controls, shows_nothing
from .disclosure import DisclosureAnswers

KEYWORD_MAX_LENGTH = 50
KEYWORDS_MAX = 10

BIDI_MESSAGE = (
    "Remove the invisible direction-control characters (U+202A–U+202E, "
    "U+2066–U+2069) from %(what)s."
)
# How a direction-control error names the field it is on; else "this answer".
_BIDI_WHERE = {
    "claim": "the claim",
    "summary": "the summary",
    "quote": "the quote",
    "name": "the name",
    "aliases": "the other names",
    "tags": "your keyword tags",
    "username": "your username",
}

Errors = dict[str, ValidationError]


def invalid(field: str, message: str, code: str, **params) -> ValidationError:
    """One field's error, in the form ValidationError(dict) every validator raises."""
    return ValidationError(
        {field: ValidationError(message, code=code, params=params or None)}
    )


def bidi_errors(**texts: str) -> Errors:
    """An error for each of `texts` (by field name) holding direction controls."""
    return {
        name: ValidationError(
            BIDI_MESSAGE,
            code="bidi_control",
            params={"what": _BIDI_WHERE.get(name, "this answer")},
        )
        for name, text in texts.items()
        if has_bidi_controls(text)
    }


def _raise(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


def validate_disclosure(
    *,
    topic: Topic,
    disclosure: DisclosureAnswers,
    author: AbstractBaseUser | None = None,
) -> None:
    """Reject a disclosure that leaves out who wrote it, who pays, or whose interest it serves.

    Nor may an answer hold direction controls: the strip shows each amid its
    other answers, which they could reorder. Only an agent's account, the
    `author`, says `ai_agent`, and it says only that, with its own model and
    maker (an article or a proposal has no such account).
    """
    errors = {
        **_authorship_errors(disclosure),
        **_account_errors(disclosure, author),
        **_pay_errors(disclosure),
        **_conflict_errors(disclosure, topic),
    }
    if not disclosure.affiliation:
        errors["affiliation"] = ValidationError(
            "Give your relevant employer or organisation, or write “none”.",
            code="affiliation_required",
        )
    texts = {name: getattr(disclosure, name) for name in DISCLOSURE_TEXT_FIELDS}
    _raise(bidi_errors(**texts) | errors)


def agent_of(user: AbstractBaseUser | None) -> Agent | None:
    """The agent whose account `user` is. People who post are active, so
    only an inactive account costs the look-up."""
    if user is None or user.is_active or not user.pk:
        return None
    return Agent.objects.select_related("operator").filter(account=user).first()


def _account_errors(d: DisclosureAnswers, author: AbstractBaseUser | None) -> Errors:
    agent = agent_of(author)
    if agent is None:
        if d.authorship != Authorship.AI_AGENT:
            return {}
        message = (
            "Only an agent's account posts as an AI agent; choose how AI was "
            "involved in your writing."
        )
        return {"authorship": ValidationError(message, code="agent_only")}
    fixed = (Authorship.AI_AGENT, agent.ai_model, agent.ai_maker)
    if (d.authorship, d.ai_model, d.ai_maker) == fixed:
        return {}
    message = (
        f"An agent's replies are posted by an AI agent with {agent.ai_model} "
        f"({agent.ai_maker}), as its account says."
    )
    return {"authorship": ValidationError(message, code="agent_disclosure")}


def _authorship_errors(d: DisclosureAnswers) -> Errors:
    if d.authorship not in Authorship.values:
        return {
            "authorship": ValidationError(
                "Say who wrote this post.", code="authorship_required"
            )
        }
    if d.authorship == Authorship.HUMAN:
        if not (d.ai_model or d.ai_maker):
            return {}
        message = (
            "Leave the AI model and maker empty for a human-written post, "
            "or choose how AI was involved."
        )
        field = "ai_model" if d.ai_model else "ai_maker"
        return {field: ValidationError(message, code="ai_unexpected")}
    errors = {}
    if not d.ai_model:
        errors["ai_model"] = ValidationError(
            "Name the AI model you used, e.g. “Claude”.", code="ai_model_required"
        )
    if not d.ai_maker:
        errors["ai_maker"] = ValidationError(
            "Name the company or group that made the AI model, e.g. “Anthropic”.",
            code="ai_maker_required",
        )
    return errors


def _pay_errors(d: DisclosureAnswers) -> Errors:
    if d.paid not in Paid.values:
        message, field, code = (
            "Say whether you are paid to post on this.",
            "paid",
            "paid_required",
        )
    elif d.paid == Paid.NO and d.paid_by:
        message, field, code = (
            "Leave “paid by” empty when you are not paid, or change your answer above.",
            "paid_by",
            "paid_by_unexpected",
        )
    elif d.paid != Paid.NO and not d.paid_by:
        message, field, code = (
            "Say who pays you, or will, to post on this.",
            "paid_by",
            "paid_by_required",
        )
    else:
        return {}
    return {field: ValidationError(message, code=code)}


def _conflict_errors(d: DisclosureAnswers, topic: Topic) -> Errors:
    if d.conflict not in Conflict.values:
        message = "Say whether you have a conflict of interest."
        return {"conflict": ValidationError(message, code="conflict_required")}
    if d.conflict == Conflict.NONE:
        if not (d.conflict_parties or d.conflict_details):
            return {}
        message = (
            "Choose “declared” to name a conflict, or clear its parties and details."
        )
        return {"conflict": ValidationError(message, code="conflict_unexpected")}
    errors = {}
    if not d.conflict_parties:
        errors["conflict_parties"] = ValidationError(
            "Choose the party or parties your conflict of interest involves.",
            code="conflict_parties_required",
        )
    elif any(party.topic_id != topic.pk for party in d.conflict_parties):
        errors["conflict_parties"] = ValidationError(
            "Choose parties of this topic only.", code="conflict_party_foreign"
        )
    if not d.conflict_details:
        errors["conflict_details"] = ValidationError(
            "Describe the conflict of interest in a sentence or two.",
            code="conflict_details_required",
        )
    return errors


def validate_stances(*, topic: Topic, stances: Iterable[Stance]) -> None:
    """Reject stances outside the topic's vocabulary; the form, admin and services all call this."""
    stances = list(stances)
    if not stances:
        raise invalid(
            "stances",
            "Choose at least one stance: say where this reply stands.",
            "stances_required",
        )
    if any(stance.position.topic_id != topic.pk for stance in stances):
        raise invalid(
            "stances",
            "Choose stances on this topic's positions only.",
            "stance_foreign",
        )
    seen: dict[int, str] = {}
    for stance in stances:
        if seen.setdefault(stance.position_id, stance.polarity) != stance.polarity:
            raise invalid(
                "stances",
                "A reply cannot both support and oppose “%(claim)s”.",
                "stance_contradiction",
                claim=stance.position.claim,
            )


def validate_parent(
    *, topic: Topic, parent: Post | None, post: Post | None = None
) -> None:
    """A reply answers a visible post of its own topic, never itself."""
    if parent is None:
        return
    if parent.topic_id != topic.pk:
        message, code = "You can only reply to a post in this topic.", "parent_foreign"
    elif (post is None or post.pk is None) and parent.status != PostStatus.PUBLISHED:
        # A new reply may not answer a hidden post; an existing one keeps its parent.
        message, code = (
            "That post was hidden by moderators; reply to the topic instead.",
            "parent_hidden",
        )
    elif post is not None and parent.pk == post.pk:
        message, code = "A post cannot reply to itself.", "parent_self"
    else:
        return
    raise invalid("parent", message, code)


def validate_passage(*, topic: Topic, passage: int | None) -> None:
    """A reply answers a paragraph its topic's article has."""
    if passage is not None and topic.passage(passage) is None:
        raise invalid(
            "passage",
            "The article has no paragraph %(number)d to answer.",
            "passage_missing",
            number=passage,
        )


def validate_body(body: str) -> None:
    """A reply says something a reader can see: judged by its rendered text.

    Spaces, zero-width characters and entities that decode to them render as
    nothing, so a body of only those is refused like an empty one.
    """
    if shows_nothing(unescape(strip_tags(render_markdown(body)))):
        raise invalid("body", "Write your reply before posting.", "body_required")


def validate_keywords(*, names: Sequence[str]) -> None:
    """At most ten keyword tags of a word each, none over fifty characters.

    `names` as services.keywords_as_spelled gives them: normalised, so a tag
    is judged as it will be stored.
    """
    if len(names) > KEYWORDS_MAX:
        raise invalid(
            "tags",
            "Use at most %(max)d keyword tags.",
            "tags_too_many",
            max=KEYWORDS_MAX,
        )
    for name in names:
        if len(name) > KEYWORD_MAX_LENGTH:
            raise invalid(
                "tags",
                "Keep each keyword tag to %(max)d characters (“%(tag)s…” is longer).",
                "tag_too_long",
                max=KEYWORD_MAX_LENGTH,
                tag=name[:20],
            )
    _raise(bidi_errors(tags="".join(names)))
    for name in names:
        # Its slug would be empty, or a mark of punctuation: no word to find it by.
        if not any(char.isalnum() for char in name):
            raise invalid(
                "tags",
                "Use letters or digits in each keyword tag: “%(tag)s” has none.",
                "tag_no_word",
                tag=name,
            )


def validate_attested(attested: bool) -> None:
    """The author confirms every disclosure they give, each time they give it."""
    if not attested:
        raise invalid(
            "attest",
            "Confirm that your disclosure is complete and accurate.",
            "attest_required",
        )


def validate_reason(reason: str, *, name: str = "reason") -> str:
    """A public reason, as moderators owe one for every action; returned stripped."""
    reason = reason.strip()
    if not reason:
        raise invalid(
            name,
            "Give a reason: the public moderation log shows it.",
            "reason_required",
        )
    if len(reason) > REASON_MAX_LENGTH or "\x00" in reason:
        raise invalid(
            name,
            f"Keep the reason to {REASON_MAX_LENGTH} characters of plain text.",
            "reason_invalid",
        )
    return reason


def validate_report(*, reason: str, note: str) -> None:
    """A report names one of the listed reasons, and says what is wrong if none fits."""
    if reason not in ReportReason.values:
        raise invalid("reason", "Choose a reason from the list.", "reason_invalid")
    if reason == ReportReason.OTHER and shows_nothing(note):
        raise invalid(
            "note",
            "Say what is wrong with the post when the reason is “something else”.",
            "note_required",
        )


def validate_suspension(*, user: AbstractBaseUser, until: datetime) -> None:
    """Suspend readers, not staff, and only until a time still to come."""
    errors = {}
    if user.is_staff:
        errors["user"] = ValidationError(
            "Staff cannot be suspended; an administrator must remove their staff "
            "status first.",
            code="suspend_staff",
        )
    if until <= timezone.now():
        errors["until"] = ValidationError(
            "Choose an end in the future.", code="until_past"
        )
    if errors:
        raise ValidationError(errors)


def validate_proposal(
    *, topic: Topic, claim: str, quote: str, summary: str = ""
) -> None:
    """A new claim of this topic, quoting the article word for word if at all.

    The claim is shown on every stance taken on it: it must say something, and
    hold no direction controls, nor may its summary.
    """
    errors = bidi_errors(claim=claim, summary=summary, quote=quote)
    if shows_nothing(claim):
        errors["claim"] = ValidationError(
            "State the claim people would take sides on.", code="claim_required"
        )
    elif not errors.get("claim") and _claim_exists(topic, claim):
        errors["claim"] = ValidationError(
            "This topic already has, or is considering, that position.",
            code="claim_exists",
        )
    if quote.strip() and " ".join(quote.split()) not in " ".join(topic.body.split()):
        errors.setdefault(
            "quote",
            ValidationError(
                "Quote the article word for word, or leave the quote empty.",
                code="quote_not_in_article",
            ),
        )
    _raise(errors)


def _claim_exists(topic: Topic, claim: str) -> bool:
    wanted = " ".join(claim.split()).casefold()
    pending = PositionProposal.objects.filter(
        topic=topic, status=ProposalStatus.PENDING
    )
    existing = [
        *Position.objects.filter(topic=topic).values_list("claim", flat=True),
        *pending.values_list("claim", flat=True),
    ]
    return any(" ".join(c.split()).casefold() == wanted for c in existing)


def validate_topic_part(*, part: Party | Position) -> None:
    """A party's names and a position's words hold no direction controls.

    Party names are read inside disclosure strips, claims beside every stance.
    """
    if isinstance(part, Party):
        _raise(bidi_errors(name=part.name, aliases=part.aliases))
    else:
        _raise(bidi_errors(claim=part.claim, summary=part.summary, quote=part.quote))


def validate_username(username: str) -> None:
    """A username is shown amid other words on every page the person writes on."""
    _raise(bidi_errors(username=username))


def validate_defaults(
    *, affiliation: str, paid: str, paid_by: str, interests: str
) -> None:
    """Defaults may be left empty, but what is there must make a valid disclosure."""
    errors = {}
    if paid not in ("", *Paid.values):
        errors["paid"] = ValidationError(
            "Choose an answer from the list.", code="paid_invalid"
        )
    elif paid in ("", Paid.NO) and paid_by.strip():
        errors["paid_by"] = ValidationError(
            "Leave “paid by” empty unless you are paid.", code="paid_by_unexpected"
        )
    elif paid in (Paid.YES, Paid.EXPECTED) and not paid_by.strip():
        errors["paid_by"] = ValidationError(
            "Say who pays you, or will.", code="paid_by_required"
        )
    if error := _interests_error(interests):
        errors["interests"] = error
    if errors:
        raise ValidationError(errors)


def _interests_error(interests: str) -> ValidationError | None:
    if len(interests) > INTERESTS_MAX_LENGTH:
        return ValidationError(
            "Keep your interests to %(max)d characters.",
            code="interests_too_long",
            params={"max": INTERESTS_MAX_LENGTH},
        )
    for line in interests.splitlines():
        name, colon, tie = line.partition(":")
        if line.strip() and not (name.strip() and colon and tie.strip()):
            return ValidationError(
                "Write each interest as “party: your tie to it”, e.g. "
                "“Anthropic: I hold shares” (“%(line)s” is not).",
                code="interest_malformed",
                params={"line": line.strip()[:40]},
            )
    return None


def validate_party_removal(*, party: Party) -> None:
    """Keep parties a declared conflict names: deleting one would strip it silently."""
    if (
        party.post_conflicts.exists()
        or party.topic_conflicts.exists()
        or party.positionproposal_conflicts.exists()
    ):
        raise ValidationError(
            "“%(party)s” is named in declared conflicts of interest, so it "
            "cannot be deleted; rename it instead.",
            code="party_in_use",
            params={"party": party},
        )
