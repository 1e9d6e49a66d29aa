"""What every contribution declares: who or what wrote it and what ties its author has.

Every rule that fits on one row is a named CheckConstraint, so no path (form,
admin, shell, command) can store a text that breaks it. Rules that span rows
(stances belong to the topic, conflicts name its parties) live in services.py.
"""

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Length, Replace, Trim
from django.db.models.lookups import GreaterThan
from django.utils.html import escape, format_html

if TYPE_CHECKING:
    from .topics import Party, Topic

BODY_MAX_LENGTH = 20_000
REASON_MAX_LENGTH = 1000

# What every disclosure asks, in the order every form, admin page and record
# asks it, with the label readers see: the one list of the disclosure's fields.
DISCLOSURE_FIELDS = {
    "authorship": "How it was written",
    "ai_model": "AI model",
    "ai_maker": "AI model's maker",
    "affiliation": "Affiliation",
    "paid": "Paid to post",
    "paid_by": "Paid by",
    "conflict": "Conflict of interest",
    "conflict_parties": "Parties of this debate you are tied to",
    "conflict_details": "Conflict details",
}
# The answers a disclosure keeps in its own row; the parties are links.
DISCLOSURE_TEXT_FIELDS = tuple(
    name for name in DISCLOSURE_FIELDS if name != "conflict_parties"
)


def not_blank(field: str) -> GreaterThan:
    """A condition that `field` holds more than whitespace, on SQLite and PostgreSQL.

    SQL TRIM strips spaces only, so other whitespace becomes a space first.
    """
    text = F(field)
    for char in "\t\n\r\f\v\xa0":
        text = Replace(text, Value(char), Value(" "))
    return GreaterThan(Length(Trim(text)), 0)


class Authorship(models.TextChoices):
    HUMAN = "human", "Human-written"
    AI_POLISHED = "ai_polished", "AI-polished"
    AI_ASSISTED = "ai_assisted", "AI-assisted"
    AI_GENERATED = "ai_generated", "AI-generated"
    # Only an agent's account posts this, and only this (forum.models.agents).
    AI_AGENT = "ai_agent", "Posted by an AI agent"


# What a person may choose on a form: an agent's authorship comes with its account.
PERSON_AUTHORSHIPS = [
    (value, label)
    for value, label in Authorship.choices
    if value != Authorship.AI_AGENT
]


class Paid(models.TextChoices):
    NO = "no", "Not paid"
    YES = "yes", "Paid"
    EXPECTED = "expected", "Expects to be paid"


class Conflict(models.TextChoices):
    NONE = "none", "No conflict of interest"
    DECLARED = "declared", "Declared conflict of interest"


class ReviewState(models.TextChoices):
    """How far moderators have looked at a post's disclosure; labels read on the strip."""

    SELF_DECLARED = "self_declared", "Self-declared"
    VERIFIED = "verified", "Verified by moderators"
    DISPUTED = "disputed", "Disputed"
    CORRECTED = "corrected", "Corrected"
    MODERATOR_LABELLED = "moderator_labelled", "Label added by moderators"


# The order of AI involvement: a lower rank after publication declares less.
AUTHORSHIP_RANK = {
    Authorship.HUMAN: 0,
    Authorship.AI_POLISHED: 1,
    Authorship.AI_ASSISTED: 2,
    Authorship.AI_GENERATED: 3,
    Authorship.AI_AGENT: 4,
}


class Written(models.TextChoices):
    """Authorship in the four classes the stance map and the filters split by."""

    HUMAN = "human", "Human-written"
    AI_HELPED = "ai_helped", "AI-polished or AI-assisted"
    AI_GENERATED = "ai_generated", "AI-generated"
    AI_AGENT = "ai_agent", "Posted by AI agents"

    @classmethod
    def of(cls, authorship: str) -> "Written":
        return {
            Authorship.HUMAN: cls.HUMAN,
            Authorship.AI_GENERATED: cls.AI_GENERATED,
            Authorship.AI_AGENT: cls.AI_AGENT,
        }.get(authorship, cls.AI_HELPED)

    @classmethod
    def authorships(cls, written: str) -> list[str]:
        return [value for value in Authorship.values if cls.of(value) == written]


class Ties(models.TextChoices):
    """What an author declared about their interest, in three classes.

    A party tie is a declared conflict naming one of the debate's parties; any
    other conflict, or being paid (or expecting to be), is a declared interest.
    """

    NONE = "none", "No declared interest"
    DECLARED = "declared", "Declared interest"
    PARTY = "party", "Tied to a party"

    @classmethod
    def of(cls, *, paid: str, conflict: str, has_party: bool) -> "Ties":
        if has_party:
            return cls.PARTY
        if paid == Paid.NO and conflict == Conflict.NONE:
            return cls.NONE
        return cls.DECLARED


class DisclosureFields(models.Model):
    """A disclosure's own answers and the rules among them, without the party links.

    Revisions keep these as they were, naming parties as they were named then.
    """

    authorship = models.CharField(
        "who wrote it", max_length=16, choices=Authorship.choices
    )
    ai_model = models.CharField("AI model", max_length=100, blank=True)
    ai_maker = models.CharField("AI model's maker", max_length=100, blank=True)
    affiliation = models.CharField(max_length=200)
    paid = models.CharField("paid to post", max_length=10, choices=Paid.choices)
    paid_by = models.CharField("paid by", max_length=200, blank=True)
    conflict = models.CharField(
        "conflict of interest", max_length=10, choices=Conflict.choices
    )
    conflict_details = models.TextField(max_length=1000, blank=True)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(authorship__in=Authorship.values),
                name="%(app_label)s_%(class)s_authorship_valid",
                violation_error_message="Authorship must be one of: "
                + ", ".join(Authorship.values)
                + ".",
            ),
            models.CheckConstraint(
                condition=(Q(authorship=Authorship.HUMAN, ai_model="", ai_maker=""))
                | (
                    ~Q(authorship=Authorship.HUMAN)
                    & Q(not_blank("ai_model"))
                    & Q(not_blank("ai_maker"))
                ),
                name="%(app_label)s_%(class)s_ai_fields_match_authorship",
                violation_error_message="Name the AI model and its maker when AI "
                "was involved, and leave both empty when it was not.",
            ),
            models.CheckConstraint(
                condition=Q(not_blank("affiliation")),
                name="%(app_label)s_%(class)s_affiliation_not_blank",
                violation_error_message="Affiliation is required; write “none” if "
                "you have none.",
            ),
            models.CheckConstraint(
                condition=Q(paid__in=Paid.values),
                name="%(app_label)s_%(class)s_paid_valid",
                violation_error_message="Paid must be one of: "
                + ", ".join(Paid.values)
                + ".",
            ),
            models.CheckConstraint(
                condition=Q(paid=Paid.NO, paid_by="")
                | (~Q(paid=Paid.NO) & Q(not_blank("paid_by"))),
                name="%(app_label)s_%(class)s_paid_by_matches_paid",
                violation_error_message="Say who pays when the post is paid or "
                "payment is expected, and no one otherwise.",
            ),
            models.CheckConstraint(
                condition=Q(conflict__in=Conflict.values),
                name="%(app_label)s_%(class)s_conflict_valid",
                violation_error_message="Conflict must be one of: "
                + ", ".join(Conflict.values)
                + ".",
            ),
            models.CheckConstraint(
                condition=Q(conflict=Conflict.NONE, conflict_details="")
                | (Q(conflict=Conflict.DECLARED) & Q(not_blank("conflict_details"))),
                name="%(app_label)s_%(class)s_conflict_details_match_conflict",
                violation_error_message="Describe a declared conflict, and leave "
                "the details empty when there is none.",
            ),
        ]

    @property
    def uses_ai(self) -> bool:
        return self.authorship != Authorship.HUMAN

    # The strip's words, one property per part: every page that shows a
    # disclosure (thread, profile, history, admin) says it the same way. Each
    # comes as text (`_words`) and as HTML (`_html`), where every value a
    # person typed is isolated in <bdi>: none can reorder the words around it.

    @property
    def written_words(self) -> str:
        return _say(*self._written())

    @property
    def written_html(self) -> str:
        return _say(*self._written(), html=True)

    def _written(self) -> tuple:
        if not self.uses_ai:
            return ("Human-written",)
        template = f"{self.get_authorship_display()} with {{}} ({{}})"
        return template, self.ai_model, self.ai_maker

    @property
    def pay_words(self) -> str:
        return _say(*self._pay())

    @property
    def pay_html(self) -> str:
        return _say(*self._pay(), html=True)

    def _pay(self) -> tuple:
        if self.paid == Paid.NO:
            return ("Not paid",)
        if self.paid == Paid.YES:
            return "Paid by {}", self.paid_by
        return "Expects pay from {}", self.paid_by

    @property
    def conflict_words(self) -> str:
        return _say(*self._conflict())

    @property
    def conflict_html(self) -> str:
        return _say(*self._conflict(), html=True)

    def _conflict(self) -> tuple:
        if self.conflict != Conflict.DECLARED:
            return ("No declared conflicts",)
        names = self.conflict_party_names
        parties = ", ".join(["{}"] * len(names))
        return f"Declared conflict with {parties}: {{}}", *names, self.conflict_details

    @property
    def conflict_party_names(self) -> list[str]:
        raise NotImplementedError


def _say(template: str, *typed: str, html: bool = False) -> str:
    """`template`'s fixed words with the `typed` values in its places; as HTML,
    each value escaped and isolated in <bdi>. The template holds no user text."""
    if not html:
        return template.format(*typed)
    if not typed:
        return escape(template)
    return format_html(template, *(format_html("<bdi>{}</bdi>", t) for t in typed))


class Disclosure(DisclosureFields):
    """Who or what wrote a text and what ties its author has to the subject.

    Shared by posts, proposed positions and the seed article itself: the site
    holds its sources to the rule it holds its users to.
    """

    conflict_parties = models.ManyToManyField(
        "Party", blank=True, related_name="%(class)s_conflicts"
    )

    class Meta(DisclosureFields.Meta):
        abstract = True

    @property
    def conflict_party_names(self) -> list[str]:
        return [party.name for party in self.conflict_parties.all()]

    @property
    def strip_words(self) -> str:
        """The whole strip in words, as forum/_disclosure.html says it (feeds)."""
        written = self.written_words
        if (party := self.maker_party) is not None:
            written += f" — {party.name} is a party to this debate"
        parts = [
            f"Disclosure: {written}",
            f"Affiliation: {self.affiliation}",
            self.pay_words,
            self.conflict_words,
        ]
        review = getattr(self, "review_state", ReviewState.SELF_DECLARED)
        if review != ReviewState.SELF_DECLARED:
            parts.append(f"{self.get_review_state_display()}: {self.review_note}")
        return " · ".join(parts)

    @property
    def maker_party(self) -> "Party | None":
        """The debate's party that made the AI model, if any: derived, never typed."""
        if not self.uses_ai:
            return None
        return self.disclosure_topic.party_named(self.ai_maker)

    @property
    def disclosure_topic(self) -> "Topic":
        raise NotImplementedError
