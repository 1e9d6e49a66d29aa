"""A post's versions side by side: what each edit changed, in words and marked text."""

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import Max

from .models import Post, PostRevision
from .services import post_snapshot

TOKENS = re.compile(r"\s+|[^\s]+")


VERSIONS_PER_PAGE = 10
# Past this many words and spaces in a changed block of lines, the block is
# shown removed and added whole: SequenceMatcher's time grows with the square of
# what it compares, and the history page is public.
WORD_DIFF_MAX_TOKENS = 1000
# The same bound for lines: past this many pairs of old and new lines to
# compare, the whole text is shown removed and added.
LINE_DIFF_MAX_PAIRS = 250_000


def versions(
    post: Post, page_number: str | None = None, *, public: bool = True
) -> tuple[Page, list[PostRevision]]:
    """A page of `post`'s versions, oldest first, and the versions to show on it.

    The list starts with the version before the page's first, if any, so each
    shown version can be compared with its predecessor; an unedited post is its
    own first version. Two queries, whatever the number of versions; an
    unknown page raises InvalidPage. For the `public`, a version moderators
    took out of view has no text.
    """
    # Numbers run 1, 2, 3...: the last one counts them.
    last = post.revisions.aggregate(last=Max("number"))["last"] or 0
    page = Paginator(range(1, last + 1), VERSIONS_PER_PAGE).page(page_number or 1)
    shown = list(page.object_list)
    if not shown:
        snapshot = post_snapshot(
            post, number=1, editor=post.author, created=post.created
        )
        page.object_list, revisions = [1], [snapshot]
    else:
        revisions = list(
            post.revisions.filter(number__gte=shown[0] - 1, number__lte=shown[-1])
            .select_related("editor")
            .order_by("number")
        )
    for revision in revisions:
        revision.post = post
        revision.text_removed = public and revision.is_redacted
        if revision.text_removed:
            revision.body = revision.reason = ""
    return page, revisions


@dataclass
class Change:
    """What one version changed from the one before, for the history page."""

    version: PostRevision
    text: list[tuple[str, str]] = field(default_factory=list)
    disclosure: list[tuple[str, str, str]] = field(default_factory=list)
    tags_added: list[str] = field(default_factory=list)
    tags_removed: list[str] = field(default_factory=list)
    after_removed: bool = False  # the version before has its text out of view

    @property
    def stance_trail(self) -> list[str]:
        return self.version.stance_trail()


def changes(revisions: list[PostRevision], first: int = 1) -> list[Change]:
    """What each version from number `first` on changed; the first of all is shown whole."""
    found = [Change(version=revisions[0])] if revisions[0].number >= first else []
    for before, after in zip(revisions, revisions[1:], strict=False):
        # Against a version whose text is out of view, a diff would be the whole
        # text: the template shows it whole instead.
        compare = before.body != after.body and not (
            before.text_removed or after.text_removed
        )
        found.append(
            Change(
                version=after,
                text=text_diff(before.body, after.body) if compare else [],
                after_removed=before.text_removed,
                disclosure=disclosure_diff(before, after),
                tags_added=[t for t in after.tags if t not in before.tags],
                tags_removed=[t for t in before.tags if t not in after.tags],
            )
        )
    return found


def text_diff(old: str, new: str) -> list[tuple[str, str]]:
    """(kind, text) runs, kind "same", "removed" or "added": by line, then by word.

    Whitespace stays its own token, so paragraphs keep their breaks; the
    template escapes every run.
    """
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    if len(a) * len(b) > LINE_DIFF_MAX_PAIRS:
        return [
            (kind, text) for kind, text in (("removed", old), ("added", new)) if text
        ]
    runs = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b).get_opcodes():
        if op == "equal":
            runs.append(("same", "".join(a[i1:i2])))
        else:
            runs += word_diff("".join(a[i1:i2]), "".join(b[j1:j2]))
    return runs


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """A changed block of lines, word by word when it is small enough to compare cheaply."""
    a, b = TOKENS.findall(old), TOKENS.findall(new)
    if not a or not b or len(a) + len(b) > WORD_DIFF_MAX_TOKENS:
        return [
            (kind, text) for kind, text in (("removed", old), ("added", new)) if text
        ]
    runs = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b).get_opcodes():
        if op == "equal":
            runs.append(("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            runs.append(("removed", "".join(a[i1:i2])))
        if j2 > j1:
            runs.append(("added", "".join(b[j1:j2])))
    return runs


def disclosure_words(version: PostRevision) -> dict[str, str]:
    """The disclosure strip's words, part by part, as every page shows them."""
    written = version.written_words
    if party := version.maker_party:
        written += f" — {party.name} is a party to this debate"
    return {
        "Who wrote it": written,
        "Affiliation": version.affiliation,
        "Pay": version.pay_words,
        "Conflict of interest": version.conflict_words,
    }


def disclosure_diff(old: PostRevision, new: PostRevision) -> list[tuple[str, str, str]]:
    """(part, before, after) for each part of the disclosure an edit changed."""
    before, after = disclosure_words(old), disclosure_words(new)
    return [
        (part, before[part], after[part])
        for part in after
        if before[part] != after[part]
    ]


def attach_trails(posts: list[Post]) -> None:
    """Give each post `stance_trail`: (time, note) for each stance it changed by editing.

    One query for the lot, and none when no post shown was edited.
    """
    edited = [post.pk for post in posts if post.edited]
    found = defaultdict(list)
    if edited:
        revisions = (
            PostRevision.objects.filter(post__in=edited)
            .exclude(stance_changes=[])
            .only("post", "number", "created", "stance_changes")
            .order_by("number")
        )
        for revision in revisions:
            found[revision.post_id] += [
                (revision.created, note) for note in revision.stance_trail()
            ]
    for post in posts:
        post.stance_trail = found[post.pk]
