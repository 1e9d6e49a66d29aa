"""Markdown to safe HTML: CommonMark without raw HTML, then an nh3 allowlist.

markdown-it-py refuses raw HTML and dangerous link schemes itself; nh3 is the
second, independent wall, so a parser bug alone cannot put script on the page.
"""

from dataclasses import dataclass
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "li", "ol", "p", "pre", "strong", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow ugc noopener"

# Images are off: a remote image in a reply is a tracking pixel for every reader.
_markdown = MarkdownIt("commonmark", {"html": False}).disable("image")


def render_markdown(text: str) -> str:
    """Return sanitised HTML for untrusted markdown `text`."""
    return nh3.clean(
        _markdown.render(text),
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
        """The passage's first words, to name it where a reply answers it."""
        words = " ".join(self.source.split()).split(" ")
        return " ".join(words[:12]) + ("…" if len(words) > 12 else "")


@lru_cache(maxsize=16)
def article_blocks(text: str) -> tuple[Block, ...]:
    """`text` cut into its top-level blocks, each rendered on its own.

    Paragraphs are numbered from 1 so replies can quote one and say which they
    answer, and the thread can anchor each (#passage-N). Cached on the text:
    every page of every thread reads the same few articles.
    """
    lines = text.splitlines()
    blocks, number = [], 0
    for token in _markdown.parse(text):
        if token.level != 0 or token.map is None or token.nesting == -1:
            continue
        source = "\n".join(lines[token.map[0] : token.map[1]])
        if token.type == "paragraph_open":
            number += 1
            blocks.append(Block(number, source, render_markdown(source)))
        else:
            blocks.append(Block(None, source, render_markdown(source)))
    return tuple(blocks)


def quote_markdown(text: str, *, source: str, url: str, words: int = 80) -> str:
    """`text` as a markdown quote of at most `words` words, ending with a link back."""
    kept = text.split()
    excerpt = " ".join(kept[:words]) + (" …" if len(kept) > words else "")
    return f"> {excerpt}\n>\n> — [{source}]({url})\n\n"
