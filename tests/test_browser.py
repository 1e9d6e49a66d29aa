"""The reply flow in a real browser: Debian's Chromium driven by Playwright.

Runs against `manage.py serve` (gunicorn, a file database), like a person would.
"""

import os
import re
import shutil

import pytest
from playwright.sync_api import sync_playwright

SLUG = "us-export-controls-frontier-ai"


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
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def sign_up(page, base, username):
    page.goto(f"{base}/accounts/signup/?next=/t/{SLUG}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password (required)", exact=True).fill(
        "a-long-browser-password-1"
    )
    page.get_by_label("Password confirmation").fill("a-long-browser-password-1")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{base}/t/{SLUG}/")


def test_reply_with_ai_involvement_shows_fields_keeps_text_on_error_then_posts(
    site, page
):
    base, _ = site
    sign_up(page, base, "browser-writer")
    form = page.locator("form.reply-form")
    ai_model = form.get_by_label("AI model", exact=True)
    assert not ai_model.is_visible(), "AI fields stay out of the way for human posts"

    form.get_by_label("Your reply").fill("Defenders need **the best tools**.")
    form.get_by_label("Supports: The ban endangers defenders").check()
    form.get_by_label("AI-generated").check()
    assert ai_model.is_visible()
    form.get_by_label("Affiliation").fill("none")
    form.get_by_label("Not paid").check()
    form.get_by_label("No conflict of interest").check()
    form.get_by_label("This disclosure is complete and accurate.").check()
    form.get_by_role("button", name="Post reply").click()

    # The AI model was left empty: the error sits by the field and the text is kept.
    page.wait_for_url(re.compile(r"/reply/$"))
    assert page.get_by_text("Name the AI model you used").is_visible()
    assert page.get_by_label("Your reply").input_value() == (
        "Defenders need **the best tools**."
    )
    page.get_by_label("AI model", exact=True).fill("Claude")
    page.get_by_label("AI model's maker").fill("Anthropic")
    page.get_by_label("This disclosure is complete and accurate.").check()
    page.get_by_role("button", name="Post reply").click()

    page.wait_for_url(re.compile(rf"/t/{SLUG}/(\?page=\d+)?#p\d+$"))
    post_id = page.url.rsplit("#p", 1)[1]
    post = page.locator(f"#p{post_id}")
    assert "AI-generated with Claude (Anthropic)" in post.inner_text()
    assert "Anthropic is a party to this debate" in post.inner_text()
    assert post.locator(".body strong").inner_text() == "the best tools"
    assert "Supports: The ban endangers defenders" in post.inner_text()
