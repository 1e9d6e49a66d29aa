"""The sanitiser on its own: raw HTML straight into nh3, held to an allowlist kept here.

markdown-it escapes raw HTML before nh3 ever sees it, so tests through the
markdown renderer pass whatever nh3 allows: they cannot tell a widened
allowlist from a safe one. These feed `markup._sanitise` the attacks
themselves, and check what comes out against tags, attributes and link
schemes spelled out below, not read from forum.markup: widening the site's
allowlist must be a change made here too, on purpose.
"""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from forum import markup

# What a rendered post may hold, and nothing else.
TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "ul",
}
ATTRIBUTES = {"a": {"href", "title", "rel"}, "ol": {"start"}}
# On any allowed tag: nh3 keeps its default generic attributes, harmless text.
GENERIC = {"lang", "title"}
SCHEMES = {"http", "https", "mailto"}
REL = "nofollow ugc noopener"


class Elements(HTMLParser):
    """Each start tag in a fragment, with its attributes (entities decoded)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    return Elements(html).found


def scheme(url: str) -> str:
    """The scheme a browser would read in `url` ("" for a relative link).

    urlsplit drops the tabs and newlines a browser also ignores ("java\\tscript:").
    """
    return urlsplit(url.strip()).scheme.lower()


def outside_the_allowlist(html: str) -> list[str]:
    """What in sanitised `html` the allowlist above does not allow."""
    problems = []
    for tag, attrs in elements(html):
        if tag not in TAGS:
            problems.append(f"<{tag}>")
            continue
        for name, value in attrs.items():
            if name not in ATTRIBUTES.get(tag, set()) | GENERIC:
                problems.append(f"<{tag} {name}={value!r}>")
            elif name == "href" and scheme(value or "") not in SCHEMES | {""}:
                problems.append(f"<{tag} href={value!r}>")
            elif name == "rel" and value != REL:
                problems.append(f"<{tag} rel={value!r}>")
    return problems


def test_the_checks_here_see_what_they_are_for():
    """The parser and the scheme reader catch what the tests below rely on."""
    assert outside_the_allowlist(
        '<p onclick="x"><img src="y"><a href="java&#x09;script:z" rel="opener">'
        '<a href="https://ok.example/" rel="nofollow ugc noopener"></a>'
    ) == [
        "<p onclick='x'>",
        "<img>",
        "<a href='java\\tscript:z'>",
        "<a rel='opener'>",
    ]
    assert scheme(" JavaScript:alert(1)") == "javascript"
    assert scheme("/relative/path?q=a:b") == ""


# Every element HTML knows (and some it does not), each with attributes that
# carry script, style or a link: whatever the sanitiser lets through is checked.
EVERY_TAG = [
    "a",
    "abbr",
    "address",
    "area",
    "article",
    "aside",
    "audio",
    "b",
    "base",
    "bdi",
    "bdo",
    "blockquote",
    "body",
    "br",
    "button",
    "canvas",
    "caption",
    "cite",
    "code",
    "col",
    "colgroup",
    "data",
    "datalist",
    "dd",
    "del",
    "details",
    "dfn",
    "dialog",
    "div",
    "dl",
    "dt",
    "em",
    "embed",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "frame",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hgroup",
    "hr",
    "html",
    "i",
    "iframe",
    "img",
    "input",
    "ins",
    "kbd",
    "label",
    "legend",
    "li",
    "link",
    "main",
    "map",
    "mark",
    "math",
    "menu",
    "meta",
    "meter",
    "nav",
    "noembed",
    "noscript",
    "object",
    "ol",
    "optgroup",
    "option",
    "output",
    "p",
    "param",
    "picture",
    "pre",
    "progress",
    "q",
    "rp",
    "rt",
    "ruby",
    "s",
    "samp",
    "script",
    "search",
    "section",
    "select",
    "slot",
    "small",
    "source",
    "span",
    "strike",
    "strong",
    "style",
    "sub",
    "summary",
    "sup",
    "svg",
    "table",
    "tbody",
    "td",
    "template",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "time",
    "title",
    "tr",
    "track",
    "u",
    "ul",
    "var",
    "video",
    "wbr",
    "xmp",
]
EVERY_ATTRIBUTE = (
    'href="javascript:alert(1)" src="https://tracker.example/p.gif" '
    'onclick="alert(1)" onerror="alert(1)" onload="alert(1)" onmouseover="alert(1)" '
    'style="background:url(https://tracker.example/)" class="x" id="x" '
    'title="a title" start="3" rel="opener" target="_blank" action="/x" '
    'formaction="/x" data="https://evil.example/" srcdoc="&lt;script&gt;" '
    'xlink:href="javascript:alert(1)" background="https://tracker.example/" '
    'lang="en" dir="rtl" name="x" width="1" height="1"'
)
KITCHEN_SINK = "\n".join(
    f"<{tag} {EVERY_ATTRIBUTE}>{tag} text</{tag}>" for tag in EVERY_TAG
)


def test_every_tag_and_attribute_thrown_at_it_is_cut_to_the_allowlist():
    clean = markup._sanitise(KITCHEN_SINK)

    assert outside_the_allowlist(clean) == []
    kept = {tag for tag, _ in elements(clean)}
    assert kept <= TAGS
    assert {"a", "p", "ol", "strong", "blockquote"} <= kept  # it did not drop all


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "  javascript:alert(1)",
        "java&#x09;script:alert(1)",
        "java&#10;script:alert(1)",
        "&#106;avascript:alert(1)",
        "javascript&colon;alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "DATA:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "VBScript:msgbox(1)",
        "file:///etc/passwd",
        "ftp://files.example/",
    ],
)
def test_links_with_a_scheme_outside_the_list_lose_their_href(href):
    clean = markup._sanitise(f'<p><a href="{href}">click</a></p>')

    assert elements(clean) == [("p", {}), ("a", {"rel": REL})]
    assert "click" in clean
    assert outside_the_allowlist(clean) == []


@pytest.mark.parametrize(
    "href",
    [
        "https://example.org/a?b=c#d",
        "http://example.org/",
        "mailto:editor@example.org",
        "/t/some-topic/",
        "#p12",
        "?page=2",
    ],
)
def test_links_with_allowed_schemes_or_relative_keep_their_href(href):
    clean = markup._sanitise(f'<a href="{href}" title="Where">there</a>')

    assert elements(clean) == [("a", {"href": href, "title": "Where", "rel": REL})]


@pytest.mark.parametrize(
    "attribute",
    [
        'onclick="alert(1)"',
        "ONCLICK=alert(1)",
        'onmouseover="alert(1)"',
        'onfocus="alert(1)" autofocus',
        'style="color: red"',
        'style="background: url(javascript:alert(1))"',
        'class="button"',
        'id="login"',
    ],
)
@pytest.mark.parametrize(
    "element",
    [
        "<p {}>text</p>",
        '<a href="https://example.org/" {}>link</a>',
        '<ol start="2" {}><li>item</li></ol>',
        "<strong {}>bold</strong>",
    ],
    ids=["p", "a", "ol", "strong"],
)
def test_event_handlers_style_and_other_attributes_are_removed(element, attribute):
    clean = markup._sanitise(element.format(attribute))

    assert outside_the_allowlist(clean) == []
    for _, attrs in elements(clean):
        assert not {"style", "class", "id", "autofocus"} & attrs.keys(), clean
        assert not [name for name in attrs if name.startswith("on")], clean
    assert "alert" not in clean and "color" not in clean


@pytest.mark.parametrize(
    ("attack", "left"),
    [
        ("<script>alert(1)</script>", ""),
        ('<script src="https://evil.example/x.js"></script>', ""),
        ("<SCRIPT>alert(1)</SCRIPT>", ""),
        ('<iframe src="https://evil.example/"></iframe>', ""),
        ('<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>', ""),
        ('<img src="x" onerror="alert(1)">', ""),
        ('<img src="https://tracker.example/pixel.gif">', ""),
        ('<svg onload="alert(1)"><circle r="1"/></svg>', ""),
        ("<svg><script>alert(1)</script></svg>", ""),
        ("<style>body { display: none }</style>", ""),
        ('<object data="https://evil.example/x.swf"></object>', ""),
        ('<embed src="https://evil.example/x.swf">', ""),
        ('<link rel="stylesheet" href="https://evil.example/x.css">', ""),
        ('<meta http-equiv="refresh" content="0;url=https://evil.example/">', ""),
        ('<base href="https://evil.example/">', ""),
        ('<form action="https://evil.example/"><input name="password"></form>', ""),
        ('<math><mi xlink:href="javascript:alert(1)">x</mi></math>', ""),
        ('<video src="x" onerror="alert(1)"></video>', ""),
    ],
)
def test_dangerous_elements_are_removed(attack, left):
    clean = markup._sanitise(f"<p>before</p>{attack}<p>after</p>")

    assert clean == f"<p>before</p>{left}<p>after</p>"


def test_every_link_gets_nofollow_ugc_noopener_in_place_of_its_own_rel():
    clean = markup._sanitise(
        '<p><a href="https://example.org/" rel="opener" target="_blank">one</a> '
        '<a href="/t/x/" rel="author">two</a> <a href="mailto:a@example.org">three'
        "</a></p>"
    )

    links = [attrs for tag, attrs in elements(clean) if tag == "a"]
    assert [attrs.get("rel") for attrs in links] == [REL, REL, REL]
    assert [attrs.get("href") for attrs in links] == [
        "https://example.org/",
        "/t/x/",
        "mailto:a@example.org",
    ]
    assert not any("target" in attrs for attrs in links)


def test_allowed_markup_comes_through_whole():
    html = (
        "<h2>Heading</h2><p><strong>bold</strong> <em>em</em> <code>x</code><br>"
        '<a href="https://example.org/" title="t">link</a></p><blockquote><p>q</p>'
        '</blockquote><ol start="3"><li>three</li></ol><ul><li>dot</li></ul><hr>'
        "<pre><code>code</code></pre>"
    )

    clean = markup._sanitise(html)

    assert clean == html.replace('title="t"', f'title="t" rel="{REL}"')


def test_rendered_markdown_stays_inside_the_allowlist():
    text = (
        "# Title\n\nSome **bold**, *em*, `code` and [a link](https://example.org/ "
        '"Its title") and <https://example.org/auto>.\n\n> quoted\n\n3. three\n'
        "4. four\n\n- a\n- b\n\n---\n\n    indented code\n\n"
        "[bad](javascript:alert(1)) <script>alert(1)</script> "
        '<a href="javascript:alert(1)" onclick="x">raw</a>'
    )

    clean = markup.render_markdown(text)

    assert outside_the_allowlist(clean) == []
    assert {tag for tag, _ in elements(clean)} == {
        "h1",
        "p",
        "strong",
        "em",
        "code",
        "a",
        "blockquote",
        "ol",
        "li",
        "ul",
        "hr",
        "pre",
    }
    assert "<script>" not in clean
