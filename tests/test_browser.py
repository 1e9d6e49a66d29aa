"""The issue's flows in a real browser: Debian's Chromium driven by Playwright.

Runs against `manage.py serve` (gunicorn, a file database), like a person would:
reading the stance map, filtering, quoting, previewing, drafts, reporting and
hiding, keyboard-only and script-free posting, watching a topic and following
a notification to the new reply, and axe-core on every page listed.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import expect, sync_playwright

from .conftest import serve, site_database

SLUG = "us-export-controls-frontier-ai"
THREAD = f"/t/{SLUG}/"
POSTED_URL = re.compile(rf"{THREAD}(\?page=\d+)?#p(\d+)$")
SUPPORTS_DEFENDERS = "Supports: The ban endangers defenders"
PASSWORD = "a-long-browser-password-1"

# One site for the module, with flood limits off: every test signs up from the
# same address, and some post twice within ten seconds.
UNTHROTTLED = {
    f"RATE_LIMIT_{name}": "off"
    for name in ("POST", "EDIT", "PREVIEW", "REPORT", "SIGNUP", "LOGIN")
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A served site on a file database of its own, without flood limits."""
    tmp = tmp_path_factory.mktemp("browser")
    with site_database(tmp, "browser") as database_url:
        yield from serve(tmp, database_url, env=UNTHROTTLED)


def manage(env, *args) -> str:
    """Run a management command against the served site's database."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        pytest.fail(f"manage.py {args[0]} failed:\n{result.stderr}")
    return result.stdout


# Replies from other readers, made through the services in one process: each
# test then finds the authorship classes and ties it needs already there.
SEED = """
import json
from django.contrib.auth import get_user_model
from forum import services
from forum.models import Party, Post, Stance, Topic

topic = Topic.objects.get(slug=%(slug)r)
none = {"affiliation": "none", "paid": "no", "conflict": "none"}
human = {"authorship": "human"}


def reply(name, body, stance, **disclosure):
    author = get_user_model().objects.create_user(name, password="x-" + name)
    return services.post_create(
        topic=topic, author=author, body=body, attested=True,
        stances=[Stance.objects.get(slug=stance)],
        disclosure=services.DisclosureAnswers(**{**none, **human, **disclosure}),
    )


posts = {
    "human": reply("seed-human", "Defenders need the best tools to find flaws first.",
                   "supports-ban-endangers-defenders"),
    "polished": reply("seed-polished", "Attackers will not wait for permission.",
                      "supports-ban-endangers-defenders", authorship="ai_polished",
                      ai_model="Claude", ai_maker="Anthropic"),
    "generated": reply("seed-generated", "The ban keeps a dangerous model contained.",
                       "opposes-ban-endangers-defenders", authorship="ai_generated",
                       ai_model="Gemini", ai_maker="Google"),
    "paid": reply("seed-paid", "Export rules are a reasonable first step.",
                  "opposes-ban-endangers-defenders", paid="yes", paid_by="A think tank"),
    "party": reply("seed-party", "National security comes first.",
                   "supports-ban-justified-national-security", conflict="declared",
                   conflict_details="I advise a federal agency.",
                   conflict_parties=[Party.objects.get(topic=topic, slug="us-government")]),
    "to_report": reply("seed-spammer", "Buy cheap exploits at my shop.",
                       "supports-export-rules-cannot-stop-abusers"),
    "to_hide": reply("seed-troll", "Everyone here is an idiot.",
                     "opposes-export-rules-cannot-stop-abusers"),
}
posts["hidden"] = reply("seed-offtopic", "Anyone want to buy a bike?",
                        "opposes-ban-justified-national-security")
reporter = get_user_model().objects.create_user("seed-reporter")
services.report_create(post=posts["to_hide"], reporter=reporter, reason="harassment")
moderator = get_user_model().objects.create_user("seed-moderator")
services.user_make_moderator(user=moderator)
services.posts_set_status(posts=Post.objects.filter(pk=posts["hidden"].pk),
                          status="hidden", actor=moderator, reason="Off topic.")
print(json.dumps({name: post.pk for name, post in posts.items()}))
"""


@pytest.fixture(scope="module")
def seeded(site):
    """Post ids of other readers' replies, by the kind of reply each is."""
    _, env = site
    output = manage(env, "shell", "--verbosity", "0", "-c", SEED % {"slug": SLUG})
    return json.loads(output.splitlines()[-1])


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium; CI installs it and sets STANDPOINT_REQUIRE_BROWSER=1."""
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("STANDPOINT_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """Open pages in fresh browser contexts (own cookies and storage), closed afterwards."""
    contexts = []

    def open_page(**options):
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def sign_up(page, base, username):
    page.goto(f"{base}/accounts/signup/?next={THREAD}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password (required)", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{base}{THREAD}")


def fill_disclosure(form, *, stance=SUPPORTS_DEFENDERS):
    """Everything but the body: a stance and a human-written, untied disclosure."""
    form.get_by_label(stance).check()
    form.get_by_label("Human-written", exact=True).check()
    form.get_by_label("Affiliation").fill("none")
    form.get_by_label("Not paid").check()
    form.get_by_label("No conflict of interest").check()
    form.get_by_label("This disclosure is complete and accurate.").check()


def post_reply(page):
    """Press Post reply and wait for the thread; return the new post's id."""
    page.locator("form.reply-form").get_by_role("button", name="Post reply").click()
    page.wait_for_url(POSTED_URL)
    return int(POSTED_URL.search(page.url)[2])


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def shown_posts(page) -> list[int]:
    """Ids of the replies on the page, in page order."""
    ids = page.locator("section.thread article.post").evaluate_all(
        "posts => posts.map(p => p.id)"
    )
    return [int(i.removeprefix("p")) for i in ids]


def test_stance_map_segment_shows_its_replies_with_a_reset(site, seeded, page):
    base, _ = site
    page.goto(base + THREAD)
    bar = page.locator("section.positions #position-ban-endangers-defenders")
    bar.locator(".sm-written .sm-supports a.seg-human").click()

    page.wait_for_url(re.compile(r"\?stance="))
    assert query(page) == {
        "stance": ["supports-ban-endangers-defenders"],
        "written": ["human"],
    }
    shown = shown_posts(page)
    assert seeded["human"] in shown
    for other in ("polished", "generated", "paid", "party"):
        assert seeded[other] not in shown
    for post in page.locator("section.thread article.post").all():
        assert post.locator(".authorship").inner_text() == "Human-written"
        assert SUPPORTS_DEFENDERS in post.locator(".stances").inner_text()
    active = page.locator(".active-filters")
    assert active.get_by_role("link", name=SUPPORTS_DEFENDERS).is_visible()
    assert active.get_by_role("link", name="Human-written only").is_visible()

    active.get_by_role("link", name="Reset all filters").click()
    page.wait_for_url(base + THREAD)
    assert {seeded["human"], seeded["generated"]} <= set(shown_posts(page))
    assert page.locator(".active-filters").count() == 0


def test_sign_up_signs_in_and_offers_the_reply_form(site, page):
    base, _ = site
    sign_up(page, base, "browser-newcomer")
    assert page.locator(".site-header .who").inner_text() == (
        "Signed in as browser-newcomer"
    )
    assert page.locator("form.reply-form").get_by_label("Your reply").is_visible()


def test_reply_with_ai_involvement_shows_fields_keeps_text_on_error_then_posts(
    site, page
):
    base, _ = site
    sign_up(page, base, "browser-writer")
    form = page.locator("form.reply-form")
    ai_model = form.get_by_label("AI model", exact=True)
    assert not ai_model.is_visible(), "AI fields stay out of the way for human posts"

    form.get_by_label("Your reply").fill("Defenders need **the best tools**.")
    form.get_by_label(SUPPORTS_DEFENDERS).check()
    form.get_by_label("AI-generated").check()
    assert ai_model.is_visible()
    form.get_by_label("Affiliation").fill("none")
    form.get_by_label("Not paid").check()
    form.get_by_label("No conflict of interest").check()
    form.get_by_label("This disclosure is complete and accurate.").check()
    form.get_by_role("button", name="Post reply").click()

    # The AI model was left empty: the error sits by the field, the summary
    # takes focus so it is read first, and the text is kept.
    page.wait_for_url(re.compile(r"/reply/$"))
    assert "Name the AI model you used" in page.locator("#field-ai_model").inner_text()
    assert page.evaluate("document.activeElement.id") == "form-errors"
    assert page.get_by_label("Your reply").input_value() == (
        "Defenders need **the best tools**."
    )
    page.get_by_label("AI model", exact=True).fill("Claude")
    page.get_by_label("AI model's maker").fill("Anthropic")
    page.get_by_label("This disclosure is complete and accurate.").check()
    post_id = post_reply(page)

    post = page.locator(f"#p{post_id}")
    assert "AI-generated with Claude (Anthropic)" in post.inner_text()
    assert "Anthropic is a party to this debate" in post.inner_text()
    assert post.locator(".body strong").inner_text() == "the best tools"
    assert SUPPORTS_DEFENDERS in post.inner_text()


def test_a_reader_makes_an_agent_and_a_token_and_the_agent_posts_with_it(site, page):
    """From the profile to a token shown once, then a reply over the API that
    the thread marks as the agent's, run by this reader."""
    base, _ = site
    sign_up(page, base, "browser-operator")
    page.goto(f"{base}/u/browser-operator/")
    page.get_by_role("link", name="Your AI agents").click()
    page.get_by_label("Name").fill("browser-factbot")
    page.get_by_label("AI model (required)", exact=True).fill("Claude")
    page.get_by_label("AI model's maker").fill("Anthropic")
    page.get_by_label("What it does").fill("Checks the sources replies cite.")
    page.get_by_role("button", name="Make the agent").click()
    page.wait_for_url(re.compile(r"/accounts/agents/\d+/$"))
    expect(page.locator(".messages")).to_contain_text("Agent browser-factbot created")

    page.get_by_label("Label").fill("browser runner")
    page.get_by_role("button", name="Make the token").click()
    # Without the attestation nothing is made, and what was typed stays.
    expect(page.locator("#field-attest")).to_contain_text("Attest that you answer")
    assert page.get_by_label("Label").input_value() == "browser runner"
    page.get_by_label("I am responsible for what this agent posts.").check()
    page.get_by_role("button", name="Make the token").click()
    token = page.locator("#new-token").inner_text()
    assert token.startswith("sp_")
    page.goto(page.url)  # the agent's page again
    assert page.locator("#new-token").count() == 0  # shown once
    expect(page.locator("table.tokens")).to_contain_text("browser runner")

    request = urllib.request.Request(
        f"{base}/api/v1/topics/{SLUG}/replies",
        data=json.dumps(
            {
                "body": "Posted by an agent from the browser test.",
                "stances": ["supports-ban-endangers-defenders"],
                "affiliation": "none",
                "paid": "no",
                "conflict": "none",
            }
        ).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": "browser-1",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
        reply = json.load(response)
    page.goto(f"{base}/p/{reply['id']}/")
    post = page.locator(f"#p{reply['id']}")
    expect(post.locator(".agent-byline")).to_contain_text(
        "browser-factbot, run by browser-operator"
    )
    expect(post).to_contain_text("Posted by an AI agent with Claude (Anthropic)")


def test_quote_a_post_and_a_paragraph_fills_the_form_and_posts_linked_quotes(
    site, seeded, page
):
    base, _ = site
    sign_up(page, base, "browser-quoter")
    quoted = seeded["human"]
    form = page.locator("form.reply-form")
    page.locator(f"#p{quoted} a.quote-link").click()

    body = form.get_by_label("Your reply")
    assert body.input_value() == (
        "> Defenders need the best tools to find flaws first.\n>\n"
        f"> — [#{quoted} by seed-human](/p/{quoted}/)\n\n"
    )
    assert form.locator("input[name=parent]").input_value() == str(quoted)
    page.keyboard.type("Agreed, and sooner.")  # the quote left the cursor at the end
    fill_disclosure(form)
    post = page.locator(f"#p{post_reply(page)}")
    assert post.locator(".in-reply").inner_text() == f"in reply to #{quoted}"
    quote = post.locator(".body blockquote")
    assert "Defenders need the best tools to find flaws first." in quote.inner_text()
    link = quote.get_by_role("link", name=f"#{quoted} by seed-human")
    assert link.get_attribute("href") == f"/p/{quoted}/"
    assert post.locator(".body > p").inner_text() == "Agreed, and sooner."

    page.locator("#passage-2 a.quote-link").click()
    assert body.input_value().startswith("> Their argument is about asymmetry.")
    assert f"> — [the article, paragraph 2]({THREAD}#passage-2)" in body.input_value()
    assert form.locator("input[name=passage]").input_value() == "2"
    page.keyboard.type("The asymmetry cuts both ways.")
    fill_disclosure(form)
    post = page.locator(f"#p{post_reply(page)}")
    assert (
        post.locator(".answers")
        .inner_text()
        .startswith(
            "Answers paragraph 2 of the article: “Their argument is about asymmetry."
        )
    )


def test_filter_chips_combine_in_the_url_and_each_comes_off_alone(site, seeded, page):
    base, _ = site
    page.goto(base + THREAD)
    chips = page.locator("nav.filters")

    chips.get_by_role("link", name="Human-written only").click()
    page.wait_for_url(re.compile(r"written=human"))
    assert query(page) == {"written": ["human"]}
    assert seeded["human"] in shown_posts(page)
    assert seeded["polished"] not in shown_posts(page)
    assert seeded["paid"] in shown_posts(page)

    chips.get_by_role("link", name="Newest first").click()
    page.wait_for_url(re.compile(r"order=newest"))
    assert query(page) == {"written": ["human"], "order": ["newest"]}
    shown = shown_posts(page)
    assert shown == sorted(shown, reverse=True)

    chips.locator("summary", has_text="By stance").click()
    chips.get_by_role("link", name="Supports: The ban endangers defenders").click()
    page.wait_for_url(re.compile(r"stance="))
    assert query(page) == {
        "written": ["human"],
        "order": ["newest"],
        "stance": ["supports-ban-endangers-defenders"],
    }
    shown = shown_posts(page)
    assert seeded["human"] in shown
    assert seeded["paid"] not in shown, "it opposes"
    assert shown == sorted(shown, reverse=True)

    page.locator(".active-filters").get_by_role(
        "link", name="Human-written only"
    ).click()
    page.wait_for_url(lambda url: "written=" not in url)
    assert query(page) == {
        "order": ["newest"],
        "stance": ["supports-ban-endangers-defenders"],
    }
    assert {seeded["human"], seeded["polished"]} <= set(shown_posts(page))
    assert seeded["paid"] not in shown_posts(page)


def test_report_a_post_thanks_the_reader(site, seeded, page):
    base, _ = site
    sign_up(page, base, "browser-reporter")
    target = seeded["to_report"]
    page.locator(f"#p{target}").get_by_role("link", name="Report").click()
    page.wait_for_url(f"{base}/p/{target}/report/")

    page.get_by_role("radio", name="Spam").check()
    page.get_by_role("button", name="Send report").click()
    page.wait_for_url(POSTED_URL)
    assert page.locator(".messages").inner_text() == (
        "Thank you: your report is with the moderators. "
        "The moderation log will show what they decide."
    )


def test_moderator_hides_a_reported_post_in_the_admin_and_readers_see_a_tombstone(
    site, seeded, new_page
):
    base, env = site
    page = new_page()
    sign_up(page, base, "browser-moderator")
    manage(env, "moderator", "browser-moderator")

    target = seeded["to_hide"]
    page.goto(f"{base}/admin/forum/reportedpost/")
    page.locator(f"input.action-select[value='{target}']").check()
    page.locator("select[name=action]").select_option(
        label="Uphold the reports and hide the posts"
    )
    page.get_by_title("Run the selected action").click()
    page.get_by_label("Public reason").fill("Insults other readers.")
    page.get_by_role("button", name="Confirm").click()
    assert "1 report(s) upheld and their posts hidden." in (
        page.locator(".messagelist").inner_text()
    )

    reader = new_page()
    reader.goto(base + THREAD)
    tombstone = reader.locator(f"#p{target}")
    assert " ".join(tombstone.inner_text().split()) == (
        f"#{target} Hidden by moderators: Insults other readers."
    )
    assert "idiot" not in reader.content()
    reader.goto(base + "/moderation/")
    hid = reader.locator(".modlog-entry", has_text=f"hid a post: post #{target} in")
    assert hid.locator(".reason").inner_text() == "Reason: Insults other readers."


def focused(page) -> dict:
    """What has the keyboard focus, and whether it is drawn."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            return {name: el.name || "", value: el.value || "",
                    text: el.textContent.trim(),
                    outline: getComputedStyle(el).outlineStyle};
        }"""
    )


def tab_to(page, name, value=None, *, back=False, limit=40):
    """Press Tab (or Shift+Tab) until the field `name` (with `value`) has focus.

    Every stop on the way must show where the focus is.
    """
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        now = focused(page)
        assert now["outline"] != "none", f"focus is invisible on {now}"
        if now["name"] == name and value in (None, now["value"]):
            return now
    pytest.fail(f"Tab never reached {name}={value}")


def test_keyboard_alone_fills_and_posts_a_reply_with_focus_always_visible(
    site, new_page
):
    base, _ = site
    page = new_page()
    sign_up(page, base, "browser-keyboard")
    # The page's own anchor: Tab continues from the reply section's heading.
    page.goto(f"{base}{THREAD}#reply-title")

    tab_to(page, "body")
    page.keyboard.type("Typed without a mouse.")
    tab_to(page, "stances", "supports-ban-endangers-defenders")
    page.keyboard.press("Space")
    tab_to(page, "authorship", "human")  # the group's first radio
    page.keyboard.press("Space")
    tab_to(page, "affiliation")
    page.keyboard.type("none")
    tab_to(page, "paid", "no")
    page.keyboard.press("Space")
    tab_to(page, "conflict", "none")
    page.keyboard.press("Space")
    tab_to(page, "attest")
    page.keyboard.press("Space")
    tab_to(page, "preview")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Post reply"
    # Back and forth: Shift+Tab returns to the attestation, still ticked.
    tab_to(page, "attest", back=True)
    assert page.evaluate("document.activeElement.checked")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    page.wait_for_url(POSTED_URL)
    post = page.locator(f"#p{POSTED_URL.search(page.url)[2]}")
    assert post.locator(".body").inner_text() == "Typed without a mouse."
    assert post.locator(".authorship").inner_text() == "Human-written"
    assert SUPPORTS_DEFENDERS in post.locator(".stances").inner_text()


def test_preview_renders_markdown_in_place_and_shows_script_as_text(site, page):
    base, _ = site
    sign_up(page, base, "browser-previewer")
    form = page.locator("form.reply-form")
    form.get_by_label("Your reply").fill(
        "Some **bold** words.\n\n<script>window.ran = true</script>"
    )
    form.get_by_role("button", name="Preview").click()

    preview = page.locator("#reply-preview")
    preview.locator("strong").wait_for()
    assert preview.locator("strong").inner_text() == "bold"
    assert "<script>window.ran = true</script>" in preview.inner_text()
    assert preview.locator("script").count() == 0
    assert page.evaluate("window.ran") is None
    assert page.url == base + THREAD, "the preview does not leave the page"
    assert form.get_by_label("Your reply").input_value().startswith("Some **bold**")


def test_draft_survives_a_reload_and_is_cleared_once_posted(site, page):
    base, _ = site
    sign_up(page, base, "browser-drafter")
    form = page.locator("form.reply-form")
    form.get_by_label("Your reply").fill("A draft worth keeping.")
    form.get_by_label(SUPPORTS_DEFENDERS).check()
    page.wait_for_function(
        "() => Object.keys(localStorage).some(k => k.startsWith('standpoint:draft:'))"
    )

    page.reload()
    assert form.get_by_label("Your reply").input_value() == "A draft worth keeping."
    assert form.get_by_label(SUPPORTS_DEFENDERS).is_checked()
    # Filled just after it enters the page, so screen readers announce it.
    expect(page.locator(".draft-note[role=status]")).to_have_text(
        re.compile(r"^Your unsent draft was restored from this browser\.")
    )
    fill_disclosure(form)
    post_reply(page)
    assert page.locator(".messages .posted").inner_text() == "Your reply is posted."

    page.goto(base + THREAD)
    assert form.get_by_label("Your reply").input_value() == ""
    assert not form.get_by_label(SUPPORTS_DEFENDERS).is_checked()
    assert page.locator(".draft-note").count() == 0


def test_draft_never_restores_the_attestation(site, page):
    """The attestation is given for each post: a draft brings back the reply
    and its disclosure, never the tick that vouches for them."""
    base, _ = site
    sign_up(page, base, "browser-draft-attester")
    form = page.locator("form.reply-form")
    attest = form.get_by_label("This disclosure is complete and accurate.")
    form.get_by_label("Your reply").fill("Vouched for once, not for ever.")
    fill_disclosure(form)  # the last thing it does is tick the attestation
    assert attest.is_checked()
    page.wait_for_function(
        """() => Object.keys(localStorage).some(k => k.startsWith('standpoint:draft:')
            && JSON.parse(localStorage.getItem(k)).body === 'Vouched for once, not for ever.'
            && JSON.parse(localStorage.getItem(k)).conflict.includes('none'))"""
    )

    page.reload()
    expect(page.locator(".draft-note[role=status]")).to_have_text(
        re.compile(r"^Your unsent draft was restored from this browser\.")
    )
    body = form.get_by_label("Your reply")
    assert body.input_value() == "Vouched for once, not for ever."
    assert form.get_by_label(SUPPORTS_DEFENDERS).is_checked()
    assert form.get_by_label("No conflict of interest").is_checked()
    assert not attest.is_checked(), "the draft ticked the attestation"
    drafts = page.evaluate(
        """Object.keys(localStorage).filter(k => k.startsWith('standpoint:draft:'))
            .map(k => JSON.parse(localStorage.getItem(k)))"""
    )
    assert drafts and all("attest" not in draft for draft in drafts)


def test_draft_stays_with_its_reply_and_its_reader(site, seeded, page):
    """A draft for the thread is not poured into a reply to a post, and signing
    out forgets every draft: the next reader of this browser finds none."""
    base, _ = site
    sign_up(page, base, "browser-draft-owner")
    page.locator("form.reply-form").get_by_label("Your reply").fill("For the thread.")
    page.wait_for_function(
        "() => Object.keys(localStorage).some(k => k.startsWith('standpoint:draft:'))"
    )

    answered = seeded["polished"]
    page.goto(f"{base}{THREAD}reply/?parent={answered}")
    form = page.locator("form.reply-form")
    assert form.get_by_label("Your reply").input_value() == ""
    assert form.locator("input[name=parent]").input_value() == str(answered)
    assert page.locator(".draft-note").count() == 0

    page.goto(base + THREAD)
    assert form.get_by_label("Your reply").input_value() == "For the thread."
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/$|/t/"))
    drafts = page.evaluate(
        "Object.keys(localStorage).filter(k => k.startsWith('standpoint:draft:'))"
    )
    assert drafts == []


def test_without_javascript_quote_preview_and_ai_reply_all_work(site, seeded, new_page):
    base, _ = site
    page = new_page(java_script_enabled=False)
    sign_up(page, base, "browser-noscript")
    quoted = seeded["polished"]
    page.locator(f"#p{quoted} a.quote-link").click()

    page.wait_for_url(f"{base}{THREAD}reply/?quote={quoted}")
    form = page.locator("form.reply-form")
    body = form.get_by_label("Your reply")
    assert body.input_value().startswith("> Attackers will not wait for permission.")
    assert f"[#{quoted} by seed-polished](/p/{quoted}/)" in body.input_value()
    assert form.locator("input[name=parent]").input_value() == str(quoted)

    # Nothing hides the AI fields without a script: they are simply there.
    assert form.get_by_label("AI model", exact=True).is_visible()
    body.fill(body.input_value() + "They **never** do.")
    fill_disclosure(form)
    form.get_by_label("AI-assisted").check()
    form.get_by_label("AI model", exact=True).fill("Mistral Large")
    form.get_by_label("AI model's maker").fill("Mistral AI")
    form.get_by_role("button", name="Preview").click()

    page.wait_for_url(f"{base}{THREAD}reply/")
    assert page.locator("#reply-preview strong").inner_text() == "never"
    assert body.input_value().endswith("They **never** do.")
    assert form.get_by_label("AI model", exact=True).input_value() == "Mistral Large"
    form.get_by_label("This disclosure is complete and accurate.").check()
    post = page.locator(f"#p{post_reply(page)}")
    assert "AI-assisted with Mistral Large (Mistral AI)" in post.inner_text()
    assert post.locator(".in-reply").inner_text() == f"in reply to #{quoted}"


def test_phone_width_has_no_horizontal_scroll(site, seeded, new_page):
    base, _ = site
    page = new_page(viewport={"width": 390, "height": 844})
    sign_up(page, base, "browser-phone")
    for path in ("/", THREAD, f"{THREAD}reply/?quote={seeded['human']}"):
        page.goto(base + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways ({width}px wide)"


def reload_until(page, url, locator, *, seconds=15):
    """Open `url` again until `locator` is on it: the task worker beside the
    server makes notifications a moment after the request that causes them."""
    deadline = time.monotonic() + seconds
    page.goto(url)
    while not locator.count() and time.monotonic() < deadline:
        page.wait_for_timeout(400)
        page.goto(url)
    assert locator.count(), f"nothing after {seconds} s on {url}"


def test_a_watcher_is_told_of_a_new_reply_and_lands_on_it_past_a_new_marker(
    site, seeded, new_page
):
    """Watch the topic from its page and read it to the end; another reader's
    reply then shows in the header's count and on /notifications/, and
    following it lands at that reply, just after the "new" marker."""
    base, _ = site
    page = new_page()
    sign_up(page, base, "browser-watcher")
    title = page.locator("h1").inner_text()
    watch = page.locator("form.watch")
    level = watch.get_by_label("Notifications for this topic")
    assert level.input_value() == "tracking"  # the default, until they choose
    level.select_option(label="Watching: every new reply")
    with page.expect_navigation():
        watch.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text(": Watching.")
    assert level.input_value() == "watching"
    # Read to the last page: the site remembers how far, so there is
    # nothing new on it the next time.
    while (later := page.locator("nav.pagination a[rel=next]")).count():
        with page.expect_navigation():
            later.first.click()
    page.reload()
    assert page.locator("#new").count() == 0
    assert page.locator(".unread-notice").count() == 0
    header = page.locator(".site-header")
    assert header.locator(".unread-count").count() == 0

    other = new_page()
    sign_up(other, base, "browser-watched")
    form = other.locator("form.reply-form")
    form.get_by_label("Your reply").fill("Something new for those watching.")
    fill_disclosure(form)
    reply = post_reply(other)

    count = header.locator(".unread-count")
    reload_until(page, base + "/", count)
    expect(count).to_have_text("1")
    assert count.get_attribute("aria-label") == "1 unread"
    # The topic list counts it too, linked to the first new reply.
    new = page.locator(".topic-card", has=page.locator(f"a[href='{THREAD}']"))
    expect(new.locator(".new-count")).to_have_text("1 new")
    first_new = new.locator(".new-count").get_attribute("href")
    assert re.fullmatch(rf"{THREAD}(\?page=\d+)?#new", first_new)

    header.get_by_role("link", name=re.compile(r"^Notifications")).click()
    page.wait_for_url(f"{base}/notifications/")
    told = page.locator("li.notification")
    expect(told).to_have_count(1)
    assert told.get_attribute("class") == "notification watched unread"
    link = told.locator("button.notification-link")
    assert link.inner_text() == (
        f"browser-watched replied in a topic you watch in “{title}”"
    )
    assert told.locator(".excerpt").inner_text() == "Something new for those watching."

    link.click()
    page.wait_for_url(POSTED_URL)
    assert POSTED_URL.search(page.url)[2] == str(reply)
    assert header.locator(".unread-count").count() == 0, "opening it marked it read"
    marker = page.locator("#new")
    assert marker.get_attribute("class") == "new-marker"
    assert marker.inner_text() == "New since you last read"
    # Right before the new reply, and nowhere else.
    assert marker.evaluate("m => m.nextElementSibling.id") == f"p{reply}"
    expect(page.locator(".new-marker")).to_have_count(1)
    notice = page.locator(".unread-notice")
    assert notice.inner_text() == (
        "1 new reply since you last read. Jump to the first new reply"
    )
    jump = notice.get_by_role("link", name="Jump to the first new reply")
    assert jump.get_attribute("href") == first_new
    jump.click()
    page.wait_for_url(base + first_new)
    expect(page.locator(f"#p{reply}")).to_be_in_viewport()

    # Read now: the marker, the notice and the topic list's count are gone.
    page.reload()
    assert page.locator("#new").count() == 0
    assert page.locator(".unread-notice").count() == 0
    page.goto(base + "/")
    assert page.locator(".new-count").count() == 0


AXE = (settings.BASE_DIR / "static/vendor/axe-core/axe.min.js").read_text()
RUN_AXE = """allowed => axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
}).then(result => ({
    passes: result.passes.length,
    violations: result.violations.map(v => ({
        id: v.id, help: v.help, targets: v.nodes.map(n => n.target.join(" ")),
    })),
    // Checks axe could not decide: each with its rule, its element and axe's
    // reason, unless UNDECIDED_BY_DESIGN names that rule on that element.
    incomplete: result.incomplete.flatMap(v => v.nodes.filter(n => !allowed.some(
        ([id, selector]) => id === v.id && document.querySelector(n.target[0])?.matches(selector)
    )).map(n => ({
        id: v.id, target: n.target.join(" "),
        why: [...n.any, ...n.all, ...n.none].map(c => c.message).filter(Boolean),
    }))),
}))"""

# Checks axe leaves undecided on purpose, by rule and by the elements they may
# be left on; every other undecided check fails the test, like a violation.
UNDECIDED_BY_DESIGN = [
    # The "✕" of an active filter chip: axe never rates the contrast of a lone
    # symbol. It is drawn in the chip's own colour on the chip (asserted in the
    # test), and axe does check the chip's label in that same colour.
    ("color-contrast", ".chip.on > span[aria-hidden=true]"),
]


# Another reader's answer to a reply, made as SEED makes replies.
ANSWER = """
from django.contrib.auth import get_user_model
from forum import services
from forum.models import Post, Stance

answered = Post.objects.get(pk=%(post)d)
services.post_create(
    topic=answered.topic, parent=answered, attested=True,
    author=get_user_model().objects.create_user("seed-answerer"),
    body="Second thoughts are welcome here.",
    stances=[Stance.objects.get(slug="opposes-ban-endangers-defenders")],
    disclosure=services.DisclosureAnswers(
        affiliation="none", paid="no", conflict="none", authorship="human"),
)
"""


@pytest.fixture(scope="module")
def audited(site, browser):
    """A signed-in reader's session with an edited reply, answered by another
    reader, for every page axe checks."""
    base, env = site
    context = browser.new_context()
    page = context.new_page()
    sign_up(page, base, "browser-audited")
    form = page.locator("form.reply-form")
    form.get_by_label("Your reply").fill("First *thoughts* on the ban.")
    fill_disclosure(form)
    post_id = post_reply(page)
    page.goto(f"{base}/p/{post_id}/edit/")
    page.get_by_label("Your reply").fill("Second *thoughts* on the ban.")
    page.get_by_label("Why are you editing?").fill("Changed my mind.")
    page.get_by_label("This disclosure is complete and accurate.").check()
    page.get_by_role("button", name="Save edit").click()
    page.wait_for_url(POSTED_URL)
    assert page.locator(f"#p{post_id} a.edited").is_visible()
    # Someone answers it, so /notifications/ has an unread notice to check.
    manage(env, "shell", "--verbosity", "0", "-c", ANSWER % {"post": post_id})
    reload_until(page, f"{base}/notifications/", page.locator("li.notification"))
    state = context.storage_state()
    context.close()
    return {"state": state, "post": post_id, "username": "browser-audited"}


def reply_with_errors(page, base, audited):
    page.goto(f"{base}{THREAD}reply/")
    page.get_by_role("button", name="Post reply").click()
    page.locator("#form-errors").wait_for()


def agents_with_errors(page, base, audited):
    page.goto(f"{base}/accounts/agents/")
    page.get_by_role("button", name="Make the agent").click()
    page.locator("#form-errors").wait_for()


AUDITED_PAGES = {
    "home": lambda page, base, audited: page.goto(base + "/"),
    "thread": lambda page, base, audited: page.goto(base + THREAD),
    "filtered thread": lambda page, base, audited: page.goto(
        f"{base}{THREAD}?stance=supports-ban-endangers-defenders&written=human"
        "&order=newest"
    ),
    "reply form with errors": reply_with_errors,
    "profile": lambda page, base, audited: page.goto(
        f"{base}/u/{audited['username']}/"
    ),
    "history": lambda page, base, audited: page.goto(
        f"{base}/p/{audited['post']}/history/"
    ),
    "moderation log": lambda page, base, audited: page.goto(base + "/moderation/"),
    "search results": lambda page, base, audited: page.goto(
        f"{base}/search/?q=ban+thoughts&written=human"
    ),
    "agents with errors": agents_with_errors,
    "notifications": lambda page, base, audited: page.goto(base + "/notifications/"),
    "notification settings": lambda page, base, audited: page.goto(
        base + "/notifications/settings/"
    ),
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("name", AUDITED_PAGES)
def test_axe_finds_no_wcag_violations(
    site, seeded, audited, new_page, name, width, scheme
):
    base, _ = site
    page = new_page(
        viewport={"width": width, "height": 900},
        color_scheme=scheme,
        storage_state=audited["state"],
    )
    AUDITED_PAGES[name](page, base, audited)
    # Folded parts (the stance table, the stance chips) are checked open too.
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    page.evaluate(AXE)  # not add_script_tag: the CSP refuses inline scripts
    result = page.evaluate(RUN_AXE, UNDECIDED_BY_DESIGN)
    assert result["passes"] > 10, "axe checked next to nothing: is the page there?"
    assert result["violations"] == [], json.dumps(result["violations"], indent=2)
    # Undecided is not passed: fix the page so axe can tell (a solid background
    # behind text, text inside its own box), or see UNDECIDED_BY_DESIGN.
    undecided = "\n".join(
        f"- {check['id']} on {check['target']}: {' '.join(check['why'])}"
        for check in result["incomplete"]
    )
    assert result["incomplete"] == [], f"axe could not decide:\n{undecided}"
    assert page.evaluate(
        """() => [...document.querySelectorAll('.chip.on > span[aria-hidden=true]')]
            .every(x => getComputedStyle(x).color === getComputedStyle(x.parentNode).color
                && getComputedStyle(x).backgroundColor === 'rgba(0, 0, 0, 0)')"""
    ), "a chip's ✕ must keep the chip's colours, which axe checks on its label"


def test_api_docs_render_under_the_sites_script_policy(site, new_page):
    """The docs page's scripts are files of ours: with the CSP as it is, every
    endpoint is listed, and the browser reports no refused script or error."""
    base, _ = site
    page = new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/api/v1/docs")
    page.locator(".opblock").first.wait_for()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {p.replace("\u200b", "") for p in paths} == {
        "/api/v1/topics",
        "/api/v1/topics/{slug}/posts",
        "/api/v1/topics/{slug}/replies",
        "/api/v1/agent",
        "/api/v1/posts/{post_id}",
        "/api/v1/moderation",
    }
    assert errors == []
