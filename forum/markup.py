"""Markdown to safe HTML: CommonMark without raw HTML, then an nh3 allowlist.

markdown-it-py refuses raw HTML and dangerous link schemes itself; nh3 is the
second, independent wall, so a parser bug alone cannot put script on the page.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from html import unescape

import nh3
from django.utils.html import strip_tags
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    *("a", "blockquote", "br", "code", "em", "hr", "li", "ol", "p", "pre", "strong"),
    *(f"h{level}" for level in range(1, 7)),
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow ugc noopener"

# Images are off: a remote image in a reply is a tracking pixel for every reader.
_markdown = MarkdownIt("commonmark", {"html": False}).disable("image")


def render_markdown(text: str) -> str:
    """Return sanitised HTML for untrusted markdown `text`."""
    return _sanitise(_markdown.render(text))


def _sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel=LINK_REL,
    )


@dataclass(frozen=True)
class Block:
    """A top-level block of an article: numbered if it is a paragraph (a passage)."""

    number: int | None
    source: str
    html: str

    @property
    def opening(self) -> str:
        """The passage's first words as read (no markup), to name it where a
        reply answers it."""
        words = unescape(strip_tags(self.html)).split()
        return " ".join(words[:12]) + ("…" if len(words) > 12 else "")


@lru_cache(maxsize=16)
def article_blocks(text: str) -> tuple[Block, ...]:
    """`text` cut into its top-level blocks, each rendered on its own.

    Paragraphs are numbered from 1 so replies can quote one and say which they
    answer, and the thread can anchor each (#passage-N). Each block is rendered
    from the one parse of the whole text (reference links keep their targets),
    through the same sanitiser as everything else. Cached on the text: every
    page of every thread reads the same few articles.
    """
    # Lines as markdown-it counts them in its token maps: "\n" only.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    env: dict = {}
    tokens = _markdown.parse(text, env)
    blocks, number, start = [], 0, None
    for i, token in enumerate(tokens):
        if token.level != 0:
            continue
        if token.nesting == 1:
            start = i
            continue
        first = tokens[start] if token.nesting == -1 else token
        group = tokens[start : i + 1] if token.nesting == -1 else [token]
        html = _sanitise(_markdown.renderer.render(group, _markdown.options, env))
        source = "\n".join(lines[first.map[0] : first.map[1]]) if first.map else ""
        paragraph = first.type == "paragraph_open"
        number += paragraph
        blocks.append(Block(number if paragraph else None, source, html))
    return tuple(blocks)


def quote_markdown(text: str, *, source: str, url: str, words: int = 80) -> str:
    """`text` as a markdown quote of at most `words` words, ending with a link back."""
    kept = text.split()
    excerpt = " ".join(kept[:words]) + (" …" if len(kept) > words else "")
    return f"> {excerpt}\n>\n> — [{source}]({url})\n\n"


# An @name as Django spells usernames, not inside a word or an e-mail address;
# a trailing full stop ends the sentence, not the name.
MENTION = re.compile(r"(?<![\w@./+-])@([\w.@+-]*[\w@+-])")
# A link to a reply's permanent address, as "Quote" writes it.
POST_LINK = re.compile(r"^(?:https?://[^/]+)?/p/(\d{1,18})/?(?:#.*)?$")


def references(text: str) -> tuple[list[str], list[int]]:
    """The @names `text` mentions and the replies it quotes, in order, once each.

    Read from the parsed markdown: nothing inside code counts (code spans and
    blocks are their own tokens), nor inside a quote (the quoted author's
    mentions are not this one's), and a quote is a link to a reply inside a
    blockquote, as "Quote" writes it.
    """
    names, quoted, quoting = {}, {}, 0
    for token in _markdown.parse(text):
        if token.type == "blockquote_open":
            quoting += 1
        elif token.type == "blockquote_close":
            quoting -= 1
        elif token.type == "inline":
            for child in token.children or ():
                if child.type == "text" and not quoting:
                    names.update(dict.fromkeys(MENTION.findall(child.content)))
                elif quoting and child.type == "link_open":
                    found = POST_LINK.match(str(child.attrs.get("href", "")))
                    if found:
                        quoted[int(found[1])] = None
    return list(names), list(quoted)
