"""Screenshots of Standpoint's main pages at 1280 px and 390 px, for the README.

    .venv/bin/python docs/screenshots.py [--out docs/screenshots] [--dark]

Builds a throwaway site on a file database (migrate, seed, a dozen replies with
every kind of disclosure), serves it with `manage.py serve`, and photographs it
in Debian's Chromium through Playwright. Needs the test extras and chromium.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SLUG = "us-export-controls-frontier-ai"
PASSWORD = "a-long-screenshot-password-1"
WIDTHS = {"1280": (1280, 900), "390": (390, 844)}

# (user, disclosure, stances, body): the replies of the demonstration thread.
HUMAN = {"authorship": "human", "affiliation": "none", "paid": "no", "conflict": "none"}
REPLIES = [
    (
        "ada",
        HUMAN,
        ["supports-ban-endangers-defenders"],
        "I run a small incident-response team. The models found two bugs in our "
        "firmware last month that we would have missed. **Defenders lose most here.**",
    ),
    (
        "ben",
        {
            **HUMAN,
            "authorship": "ai_assisted",
            "ai_model": "Claude",
            "ai_maker": "Anthropic",
        },
        ["supports-ban-endangers-defenders", "opposes-ban-justified-national-security"],
        "The letter's point about asymmetry holds: attackers do not ask for a licence.",
    ),
    (
        "chen",
        {
            **HUMAN,
            "affiliation": "Former export-control official",
            "conflict": "declared",
            "conflict_parties": ["us-government"],
            "conflict_details": "I worked on export rules until 2024.",
        },
        ["supports-ban-justified-national-security"],
        "Export controls are blunt, but the government has seen things the public has not.",
    ),
    (
        "eli",
        {**HUMAN, "affiliation": "Open-source maintainer"},
        [
            "supports-rules-transparent-minimal",
            "supports-export-rules-cannot-stop-abusers",
        ],
        "Publish the criteria. Rules nobody can read cannot be followed or challenged.",
    ),
    (
        "dana",
        {
            **HUMAN,
            "authorship": "ai_generated",
            "ai_model": "GPT-5",
            "ai_maker": "OpenAI",
        },
        ["opposes-ban-endangers-defenders"],
        "Defenders have other tools. One model family is not the whole field.",
    ),
    (
        "eli",
        {**HUMAN, "paid": "yes", "paid_by": "A security vendor"},
        ["supports-ban-endangers-defenders"],
        "Our customers asked for these models by name. Now they cannot have them.",
    ),
    (
        "ada",
        HUMAN,
        ["opposes-ban-justified-national-security"],
        "No public reason was given. That alone should worry everyone.",
    ),
    (
        "fay",
        {
            **HUMAN,
            "authorship": "ai_polished",
            "ai_model": "DeepL Write",
            "ai_maker": "DeepL",
            "affiliation": "University researcher",
        },
        ["supports-ban-justified-national-security", "opposes-ban-endangers-defenders"],
        "Dual-use risk is real; the open letter underrates it.",
    ),
    (
        "chen",
        {
            **HUMAN,
            "affiliation": "Former export-control official",
            "conflict": "declared",
            "conflict_parties": ["us-government"],
            "conflict_details": "I worked on export rules until 2024.",
        },
        ["supports-ban-justified-national-security"],
        "Rules for AI models will need a process that can act before harm is public.",
    ),
    (
        "ben",
        {
            **HUMAN,
            "authorship": "ai_assisted",
            "ai_model": "Claude",
            "ai_maker": "Anthropic",
        },
        ["opposes-documenting-dangers-not-grounds-for-ban"],
        "Documenting a danger is exactly when a regulator should look closer.",
    ),
]


def populate() -> None:
    """Make the users and replies, in this process, on DATABASE_URL."""
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.contrib.auth import get_user_model

    from forum import services
    from forum.models import Post, PostStatus, Stance, Topic

    topic = Topic.objects.get(slug=SLUG)
    users = {}
    for name in ["ada", "ben", "chen", "dana", "eli", "fay", "moderator"]:
        users[name] = get_user_model().objects.create_user(name, password=PASSWORD)
    services.user_make_moderator(user=users["moderator"])
    posts = []
    for i, (name, answers, stances, body) in enumerate(REPLIES):
        answers = dict(answers)
        parties = topic.parties.filter(slug__in=answers.pop("conflict_parties", []))
        disclosure = services.DisclosureAnswers(**answers, conflict_parties=parties)
        posts.append(
            services.post_create(
                topic=topic,
                author=users[name],
                body=body,
                attested=True,
                stances=Stance.objects.filter(slug__in=stances, position__topic=topic),
                tags=["exploits"] if i % 3 == 0 else [],
                parent=posts[0] if i == 5 else None,
                passage=2 if i == 2 else None,
                disclosure=disclosure,
            )
        )
    spam = services.post_create(
        topic=topic,
        author=users["eli"],
        body="Buy cheap exploits here!",
        stances=Stance.objects.filter(slug="supports-ban-endangers-defenders"),
        attested=True,
        disclosure=services.DisclosureAnswers(**HUMAN),
    )
    services.posts_set_status(
        posts=Post.objects.filter(pk=spam.pk),
        status=PostStatus.HIDDEN,
        actor=users["moderator"],
        reason="Advertising.",
    )
    first = posts[0]
    services.post_edit(
        post=first,
        editor=users["ada"],
        attested=True,
        reason="",
        body=first.body + "\n\nEdited: the second bug was in a VPN appliance.",
        stances=first.stances.all(),
        disclosure=services.DisclosureAnswers(**HUMAN),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PAGES = [
    ("home", "/", None),
    ("thread", f"/t/{SLUG}/", None),
    ("stance-map", f"/t/{SLUG}/", "#positions-title"),
    (
        "filtered",
        f"/t/{SLUG}/?stance=supports-ban-endangers-defenders&written=human",
        "#replies-title",
    ),
    ("moderation-log", "/moderation/", None),
    ("profile", "/u/ada/", None),
    ("history", "/p/1/history/", None),
]


def photograph(page, base: str, name: str) -> None:
    """Open the page called `name`, scrolled to the part it shows."""
    _, url, scroll_to = next(entry for entry in PAGES if entry[0] == name)
    page.goto(base + url)
    if scroll_to:
        page.evaluate("sel => document.querySelector(sel).scrollIntoView()", scroll_to)


def reply_with_errors(page, base: str) -> None:
    """Sign in as ben and send a reply with most of its disclosure missing."""
    page.goto(f"{base}/accounts/login/?next=/t/{SLUG}/reply/")
    page.get_by_label("Username").fill("ben")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/t/{SLUG}/reply/")
    page.get_by_label("Your reply").fill("The *letter* is right.")
    page.get_by_label("AI-assisted").check()
    page.get_by_role("button", name="Post reply").click()
    page.wait_for_selector("#form-errors")


def shoot(base: str, out: Path, dark: bool) -> list[Path]:
    from playwright.sync_api import sync_playwright

    made = []
    suffix = "-dark" if dark else ""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        for label, (width, height) in WIDTHS.items():
            context = browser.new_context(
                viewport={"width": width, "height": height},
                color_scheme="dark" if dark else "light",
            )
            page = context.new_page()
            for name, _, _ in PAGES:
                photograph(page, base, name)
                made.append(out / f"{name}-{label}{suffix}.png")
                page.screenshot(path=str(made[-1]))
            reply_with_errors(page, base)
            made.append(out / f"reply-errors-{label}{suffix}.png")
            page.screenshot(path=str(made[-1]))
            context.close()
        browser.close()
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--dark", action="store_true", help="dark colour scheme")
    parser.add_argument("--populate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.populate:
        populate()
        return
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/site.sqlite3",
            "SECRET_KEY": "screenshots-only",
            "DEBUG": "0",
            "DJANGO_SETTINGS_MODULE": "forum.settings",
            "RATE_LIMIT_POST": "off",
            "RATE_LIMIT_LOGIN": "off",
        }
        python, manage = sys.executable, str(ROOT / "manage.py")
        for argv in (
            [python, manage, "migrate", "-v0"],
            [python, manage, "seed", "-v0"],
            [python, __file__, "--populate"],
        ):
            subprocess.run(argv, cwd=ROOT, env=env, check=True)
        port = free_port()
        log = open(Path(tmp) / "serve.log", "w")  # noqa: SIM115 - lives as long as the server
        server = subprocess.Popen(
            [python, manage, "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=2)
                    break
                except OSError:
                    time.sleep(0.2)
            for path in shoot(base, args.out, args.dark):
                print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        finally:
            server.terminate()
            server.wait(timeout=15)
            log.close()


if __name__ == "__main__":
    main()
