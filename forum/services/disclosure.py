"""A disclosure's answers on their way to a row, and what counts as declaring less.

`DisclosureAnswers` is how answers travel from a form, a seed file or the
shell to the services: one value, named field by field after
`models.DISCLOSURE_FIELDS`, instead of loose keyword arguments.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..models import (
    AUTHORSHIP_RANK,
    DISCLOSURE_TEXT_FIELDS,
    Conflict,
    Paid,
    Party,
    PostRevision,
    Topic,
)
from ..text import shows_nothing


@dataclass(frozen=True, kw_only=True)
class DisclosureAnswers:
    """Who or what wrote a text and what ties its author declared, as given.

    Text answers are kept trimmed; a left-out optional answer is empty, and so
    is one a reader would see nothing in (zero-width or other invisible
    characters only): the rules then ask for it as for any empty answer.
    """

    authorship: str
    ai_model: str = ""
    ai_maker: str = ""
    affiliation: str
    paid: str
    paid_by: str = ""
    conflict: str
    conflict_parties: tuple[Party, ...] = ()
    conflict_details: str = ""

    def __post_init__(self):
        for name in DISCLOSURE_TEXT_FIELDS:
            value = (getattr(self, name) or "").strip()
            object.__setattr__(self, name, "" if shows_nothing(value) else value)
        parties = tuple(dict.fromkeys(self.conflict_parties or ()))
        object.__setattr__(self, "conflict_parties", parties)

    @classmethod
    def from_mapping(cls, data: Mapping) -> "DisclosureAnswers":
        """The answers in `data` (a form's cleaned data); a missing one is empty."""
        answers = {name: data.get(name) or "" for name in DISCLOSURE_TEXT_FIELDS}
        return cls(**answers, conflict_parties=data.get("conflict_parties") or ())

    @classmethod
    def of(cls, item) -> "DisclosureAnswers":
        """What a stored post, proposal or topic declares now."""
        answers = {name: getattr(item, name) for name in DISCLOSURE_TEXT_FIELDS}
        return cls(**answers, conflict_parties=item.conflict_parties.all())

    def texts(self) -> dict[str, str]:
        """The answers a disclosure row keeps in its own columns."""
        return {name: getattr(self, name) for name in DISCLOSURE_TEXT_FIELDS}

    def apply_to(self, item) -> None:
        """Put the text answers on a post, proposal or topic; links are set after saving."""
        for name, value in self.texts().items():
            setattr(item, name, value)


def disclosure_downgrades(
    old: PostRevision, new: PostRevision, topic: Topic
) -> list[str]:
    """How `new` declares less than `old`, or changes what it declared, in words.

    Only additions are free: more AI involvement, a payment, conflict or
    affiliation newly declared, more parties to a conflict. Any other change
    could hide a tie, so it needs a reason and marks the post amended.
    """
    return [
        *_authorship_downgrades(old, new, topic),
        *_ties_downgrades(old, new),
    ]


def _authorship_downgrades(
    old: PostRevision, new: PostRevision, topic: Topic
) -> Iterable[str]:
    if AUTHORSHIP_RANK[new.authorship] < AUTHORSHIP_RANK[old.authorship]:
        yield (
            f"less AI involvement ({old.get_authorship_display()} → "
            f"{new.get_authorship_display()})"
        )
    elif old.uses_ai and (
        old.ai_model != new.ai_model or not _same_maker(old, new, topic)
    ):
        yield "a different AI model or maker"


def _ties_downgrades(old: PostRevision, new: PostRevision) -> Iterable[str]:
    if (
        not _kept(old.affiliation, new.affiliation)
        and old.affiliation.casefold() != "none"
    ):
        yield "a changed affiliation"
    if old.paid != Paid.NO and new.paid == Paid.NO:
        yield "the payment removed"
    elif old.paid != Paid.NO and (
        old.paid != new.paid or not _kept(old.paid_by, new.paid_by)
    ):
        yield "a changed payment"
    old_parties = {party["slug"] for party in old.conflict_parties}
    new_parties = {party["slug"] for party in new.conflict_parties}
    if old.conflict == Conflict.DECLARED and new.conflict == Conflict.NONE:
        yield "the conflict of interest removed"
    elif old_parties - new_parties:
        yield "a party removed from the conflict of interest"
    elif old.conflict == Conflict.DECLARED and not _kept(
        old.conflict_details, new.conflict_details
    ):
        yield "rewritten conflict details"


def _kept(old: str, new: str) -> bool:
    """Whether `new` keeps all of `old`'s words in order: an answer may grow, not shrink."""
    return " ".join(old.split()) in " ".join(new.split())


def _same_maker(old: PostRevision, new: PostRevision, topic: Topic) -> bool:
    """One maker, spelled alike or named by two of one party's names."""
    if old.ai_maker.casefold() == new.ai_maker.casefold():
        return True
    party = topic.party_named(old.ai_maker)
    return party is not None and party == topic.party_named(new.ai_maker)
