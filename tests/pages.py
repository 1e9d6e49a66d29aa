"""Reading pages the way a person does: the text shown, the errors by each field, the messages."""

import re
from html import unescape

from django.utils.html import strip_tags

from .conftest import CsrfClient


def page(response) -> str:
    return response.content.decode()


def squash(fragment: str) -> str:
    """The text a reader sees in an HTML fragment, whitespace collapsed."""
    return " ".join(unescape(strip_tags(fragment)).split())


def post_block(response, post) -> str:
    """The <article> of `post` on a thread page, or "" when it is not shown."""
    match = re.search(
        rf'<article class="post[^"]*" id="p{post.pk}".*?</article>',
        page(response),
        re.S,
    )
    return match.group(0) if match else ""


def shown_post_ids(response) -> list[int]:
    return [
        int(pk)
        for pk in re.findall(r'<article class="post[^"]*" id="p(\d+)"', page(response))
    ]


def field_errors(response, name: str) -> list[str]:
    """The messages shown next to field `name` (its errorlist, tied to it by id)."""
    match = re.search(
        rf'<ul class="errorlist" id="id_{name}_errors">(.*?)</ul>', page(response), re.S
    )
    if not match:
        return []
    return [
        unescape(item) for item in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)
    ]


def summary_errors(response) -> str:
    """The text of the error summary at the top of a form."""
    match = re.search(r'<div class="form-errors".*?</div>', page(response), re.S)
    return squash(match.group(0)) if match else ""


def messages_shown(response) -> list[str]:
    """The flash messages on a site or admin page."""
    match = re.search(
        r'<ul class="message(?:s|list)"[^>]*>(.*?)</ul>', page(response), re.S
    )
    if not match:
        return []
    return [
        squash(item)
        for item in re.findall(r"<li[^>]*>(.*?)</li>", match.group(1), re.S)
    ]


def as_typed(data: dict) -> dict[str, list[str]]:
    """`data` as a browser sends it back: lists of non-empty strings."""
    typed = {}
    for name, value in data.items():
        values = value if isinstance(value, list) else [value]
        if values and values != [""]:
            typed[name] = [str(v) for v in values]
    return typed


def reply_url(topic) -> str:
    return f"/t/{topic.slug}/reply/"


def signed_in(user) -> CsrfClient:
    """A CSRF-checked client signed in as `user`."""
    client = CsrfClient()
    client.force_login(user)
    return client


# Every tie declared: the disclosure fields the reply and proposal forms share.
TIED_DISCLOSURE = {
    "authorship": "ai_assisted",
    "ai_model": "Claude",
    "ai_maker": "Anthropic",
    "affiliation": "University of Nowhere",
    "paid": "expected",
    "paid_by": "A think tank",
    "conflict": "declared",
    "conflict_parties": ["anthropic", "us-government"],
    "conflict_details": "I advise both on export rules.",
    "attest": "on",
}


def filled(data: dict, changes: dict) -> dict:
    """`data` with `changes` applied; a change to None leaves the field out."""
    data = {**data, **changes}
    return {name: value for name, value in data.items() if value is not None}


def reply_data(**changes):
    """Every field of the reply form, filled in validly, with `changes` applied."""
    reply = {
        "body": "Defenders need *these* models.",
        "stances": ["supports-ban-endangers-defenders", "opposes-ban-is-justified"],
        "tags": "open source, exploits",
        "parent": "",
        **TIED_DISCLOSURE,
    }
    return filled(reply, changes)
