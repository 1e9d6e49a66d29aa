"""Flood control, through the front door and on the configured cache (never mocked)."""

import re
import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connections
from django.test import RequestFactory
from pytest_django.asserts import assertRedirects

from forum import limits, services
from forum.limits import Rate, parse_rates
from forum.models import PositionProposal, Post, RateCount, Report

from .browser_form import form_values
from .conftest import REQUIRE_REDIS, CsrfClient, redis_trouble, unavailable
from .factories import PASSWORD, make_post, make_user
from .pages import (
    TIED_DISCLOSURE,
    as_typed,
    messages_shown,
    page,
    reply_data,
    reply_url,
    signed_in,
    squash,
)

ENDANGERS = "supports-ban-endangers-defenders"
NOT_JUSTIFIED = "opposes-ban-is-justified"
SLOW_DOWN = (
    "You are going faster than the site allows. Wait {n} second{s} and send it "
    "again: everything you typed is still here."
)


# Helpers -------------------------------------------------------------------


def notices(response) -> list[str]:
    """The text of each alert notice (slow down, locked, ...) on the page."""
    found = re.findall(
        r'<p class="notice[^"]*" role="alert">(.*?)</p>', page(response), re.S
    )
    return [squash(notice) for notice in found]


def retry_after(response) -> int:
    """The Retry-After header as whole seconds (it must be an integer)."""
    value = response["Retry-After"]
    assert value.isdigit(), value
    return int(value)


def slow_down(seconds: int) -> str:
    return SLOW_DOWN.format(n=seconds, s="" if seconds == 1 else "s")


def form_on_page(response, css_class: str) -> dict[str, list[str]]:
    """What the browser would send back from the form with `css_class`, blanks dropped."""
    match = re.search(rf'<form[^>]*class="{css_class}".*?</form>', page(response), re.S)
    assert match, f"no {css_class} form on the page"
    return {
        name: values
        for name, values in form_values(match.group(0)).items()
        if values != [""] and name != "csrfmiddlewaretoken"
    }


def set_rate(settings, name: str, text: str) -> None:
    settings.STANDPOINT_RATE_LIMITS = {**settings.STANDPOINT_RATE_LIMITS, name: text}


@pytest.fixture
def poster(csrf_client, user):
    csrf_client.force_login(user)
    return csrf_client


# Posting: per-user rates ---------------------------------------------------


def test_second_reply_within_ten_seconds_is_429_with_everything_typed_kept(
    poster, user, topic
):
    assert poster.post(reply_url(topic), reply_data(body="First.")).status_code == 302
    data = reply_data(body="A second thought, typed *carefully*.")

    response = poster.post(reply_url(topic), data)

    assert response.status_code == 429
    wait = retry_after(response)
    assert 1 <= wait <= 10
    assert notices(response) == [slow_down(wait)]
    assert form_on_page(response, "reply-form") == as_typed(data)
    assert list(Post.objects.filter(author=user).values_list("body", flat=True)) == [
        "First."
    ]


def test_reply_is_accepted_once_the_short_window_has_passed(settings, poster, topic):
    set_rate(settings, "post", "1/1s")
    poster.post(reply_url(topic), reply_data(body="First."))
    assert poster.post(reply_url(topic), reply_data(body="Second.")).status_code == 429

    time.sleep(1.1)
    response = poster.post(reply_url(topic), reply_data(body="Second."))

    second = Post.objects.get(body="Second.")
    assertRedirects(response, f"/p/{second.pk}/", fetch_redirect_response=False)
    assert Post.objects.filter(topic=topic).count() == 2


def test_hourly_limit_refuses_the_reply_past_the_count_for_about_an_hour(
    settings, poster, user, topic
):
    set_rate(settings, "post", "3/h")
    for n in range(3):
        assert (
            poster.post(reply_url(topic), reply_data(body=f"Reply {n}.")).status_code
            == 302
        )

    response = poster.post(reply_url(topic), reply_data(body="One too many."))

    assert response.status_code == 429
    wait = retry_after(response)
    assert 3600 - 60 <= wait <= 3600
    assert notices(response) == [slow_down(wait)]
    assert Post.objects.filter(author=user).count() == 3
    assert not Post.objects.filter(body="One too many.").exists()


def test_refused_reply_form_does_not_use_up_the_limit(poster, user, topic):
    invalid = poster.post(reply_url(topic), reply_data(stances=[]))
    assert invalid.status_code == 200
    assert not Post.objects.exists()

    response = poster.post(reply_url(topic), reply_data())

    assert response.status_code == 302
    assert Post.objects.filter(author=user).count() == 1


def test_reply_refused_by_the_service_gives_its_count_back(poster, user, topic):
    """A form that validates but is refused on publishing (a locked topic) is not counted."""
    topic.is_locked = True
    topic.save()
    refused = poster.post(reply_url(topic), reply_data())
    assert refused.status_code == 403
    topic.is_locked = False
    topic.save()

    response = poster.post(reply_url(topic), reply_data())

    assert response.status_code == 302
    assert Post.objects.filter(author=user).count() == 1


def test_moderators_are_exempt_from_the_posting_limits(moderator, topic):
    client = signed_in(moderator)

    first = client.post(reply_url(topic), reply_data(body="First, from staff."))
    second = client.post(reply_url(topic), reply_data(body="Second, from staff."))

    assert (first.status_code, second.status_code) == (302, 302)
    assert Post.objects.filter(author=moderator).count() == 2


def test_the_posting_limit_is_per_user(poster, topic):
    poster.post(reply_url(topic), reply_data(body="Mine."))

    response = signed_in(make_user()).post(reply_url(topic), reply_data(body="Theirs."))

    assert response.status_code == 302
    assert Post.objects.filter(topic=topic).count() == 2


# Posting: duplicates and double submits -------------------------------------


def test_same_body_twice_is_refused_as_a_duplicate_pointing_at_the_first(
    settings, poster, user, topic
):
    set_rate(settings, "post", "off")
    poster.post(reply_url(topic), reply_data(body="Said once."), follow=True)
    first = Post.objects.get(author=user)

    response = poster.post(
        reply_url(topic), reply_data(body="Said once.", stances=[ENDANGERS])
    )

    assertRedirects(response, f"/p/{first.pk}/", fetch_redirect_response=False)
    followed = poster.get(response["Location"], follow=True)
    assert messages_shown(followed) == [
        f"You posted this same text at {first.created:%H:%M} UTC (#{first.pk}); "
        "it was not posted again."
    ]
    assert list(Post.objects.values_list("pk", flat=True)) == [first.pk]


def test_same_body_from_a_different_user_is_accepted(poster, topic):
    poster.post(reply_url(topic), reply_data(body="Great minds."))

    response = signed_in(make_user()).post(
        reply_url(topic), reply_data(body="Great minds.")
    )

    assert response.status_code == 302
    assert Post.objects.filter(body="Great minds.").count() == 2


def test_same_body_is_accepted_again_after_the_duplicate_window(
    settings, poster, user, topic
):
    set_rate(settings, "post", "off")
    poster.post(reply_url(topic), reply_data(body="Worth repeating."))
    first = Post.objects.get(author=user)
    window = timedelta(seconds=settings.STANDPOINT_DUPLICATE_SECONDS)
    Post.objects.filter(pk=first.pk).update(
        created=first.created - window - timedelta(seconds=1)
    )

    response = poster.post(reply_url(topic), reply_data(body="Worth repeating."))

    second = Post.objects.exclude(pk=first.pk).get(body="Worth repeating.")
    assertRedirects(response, f"/p/{second.pk}/", fetch_redirect_response=False)


def test_duplicate_window_follows_the_setting(settings, poster, user, topic):
    set_rate(settings, "post", "off")
    settings.STANDPOINT_DUPLICATE_SECONDS = 1
    poster.post(reply_url(topic), reply_data(body="Echo."))
    first = Post.objects.get(author=user)
    Post.objects.filter(pk=first.pk).update(
        created=first.created - timedelta(seconds=2)
    )

    response = poster.post(reply_url(topic), reply_data(body="Echo."))

    assert response.status_code == 302
    assert Post.objects.filter(body="Echo.").count() == 2


def test_double_submitted_reply_creates_one_post_and_both_answers_lead_to_it(
    poster, user, topic
):
    data = reply_data(body="Clicked twice.")

    first = poster.post(reply_url(topic), data)
    second = poster.post(reply_url(topic), data)

    post = Post.objects.get(author=user)
    assert Post.objects.count() == 1
    assertRedirects(first, f"/p/{post.pk}/", fetch_redirect_response=False)
    assertRedirects(second, f"/p/{post.pk}/", fetch_redirect_response=False)


def test_reply_sent_again_while_the_first_is_being_published_leads_to_one_post(
    settings, monkeypatch, poster, user, topic
):
    """The second click lands inside the 1/10s window, before the first is stored.

    The first request is held just before it publishes while its twin goes
    all the way through: the twin must find no count taken for the first, and
    the first must then find the twin's post, not post again.
    """
    assert parse_rates(settings.STANDPOINT_RATE_LIMITS["post"])[0] == Rate(1, 10)
    data = reply_data(body="Clicked twice, quickly.")
    twin = signed_in(user)
    twin.get(reply_url(topic))
    publish = services.post_create
    twin_answers = []

    def twin_arrives_first(**kwargs):
        monkeypatch.setattr(services, "post_create", publish)
        twin_answers.append(twin.post(reply_url(topic), data))
        return publish(**kwargs)

    monkeypatch.setattr(services, "post_create", twin_arrives_first)

    first = poster.post(reply_url(topic), data)

    post = Post.objects.get(author=user)
    assert Post.objects.count() == 1
    assert len(twin_answers) == 1
    assertRedirects(twin_answers[0], f"/p/{post.pk}/", fetch_redirect_response=False)
    assertRedirects(first, f"/p/{post.pk}/", fetch_redirect_response=False)


def test_busy_database_does_not_use_up_the_posting_limit(
    monkeypatch, poster, user, topic
):
    """A 503 asks the writer to send the same reply again: that retry is not a 429."""
    with monkeypatch.context() as patched:

        def database_busy(*args, **kwargs):
            raise OperationalError("database is locked")

        # Runs inside services.post_create, after the reply was counted.
        patched.setattr("forum.services.tallies.tallies_apply", database_busy)
        busy = poster.post(reply_url(topic), reply_data(body="Sent while busy."))

    assert busy.status_code == 503
    assert retry_after(busy) == 5
    assert not Post.objects.exists()

    response = poster.post(reply_url(topic), reply_data(body="Sent while busy."))

    post = Post.objects.get(author=user)
    assert post.body == "Sent while busy."
    assertRedirects(response, f"/p/{post.pk}/", fetch_redirect_response=False)


# Reports -------------------------------------------------------------------


def report_url(post) -> str:
    return f"/p/{post.pk}/report/"


def test_report_default_rate_is_twenty_a_day(settings):
    assert settings.STANDPOINT_RATE_LIMITS["report"] == "20/d"
    assert parse_rates(settings.STANDPOINT_RATE_LIMITS["report"]) == (Rate(20, 86400),)


def test_report_past_the_daily_limit_is_429_with_the_note_kept(settings, user, topic):
    set_rate(settings, "report", "2/d")
    posts = [make_post(topic=topic, body=f"Post {n}.") for n in range(3)]
    client = signed_in(user)
    for post in posts[:2]:
        response = client.post(report_url(post), {"reason": "spam"})
        assert response.status_code == 302
    data = {"reason": "other", "note": "Copies a press release word for word."}

    response = client.post(report_url(posts[2]), data)

    assert response.status_code == 429
    wait = retry_after(response)
    assert 86400 - 60 <= wait <= 86400
    assert notices(response) == [slow_down(wait)]
    assert form_values(page(response))["reason"] == ["other"]
    assert form_values(page(response))["note"] == [data["note"]]
    assert Report.objects.filter(reporter=user).count() == 2
    assert not Report.objects.filter(post=posts[2]).exists()


def test_refused_report_does_not_use_up_the_limit(settings, user, topic):
    set_rate(settings, "report", "1/d")
    own = make_post(topic=topic, author=user, body="My own.")
    other = make_post(topic=topic, body="Someone else's.")
    client = signed_in(user)
    assert client.post(report_url(own), {"reason": "spam"}).status_code == 403

    response = client.post(report_url(other), {"reason": "spam"})

    assert response.status_code == 302
    assert list(Report.objects.values_list("post", flat=True)) == [other.pk]


# Proposals -------------------------------------------------------------------


def propose_url(topic) -> str:
    return f"/t/{topic.slug}/positions/propose/"


def proposal_data(claim: str) -> dict:
    """Every field of the proposal form, filled in validly."""
    return {
        "claim": claim,
        "summary": "Why it matters.",
        "quote": "",
        **TIED_DISCLOSURE,
    }


def test_proposal_default_rate_is_five_a_day(settings):
    assert settings.STANDPOINT_RATE_LIMITS["propose"] == "5/d"
    assert parse_rates(settings.STANDPOINT_RATE_LIMITS["propose"]) == (Rate(5, 86400),)


def test_sixth_proposal_in_a_day_is_429_with_the_text_kept(user, topic):
    client = signed_in(user)
    for n in range(5):
        response = client.post(propose_url(topic), proposal_data(f"Claim number {n}"))
        assert response.status_code == 302
    data = proposal_data("Defenders should be exempt")

    response = client.post(propose_url(topic), data)

    assert response.status_code == 429
    wait = retry_after(response)
    assert 86400 - 60 <= wait <= 86400
    assert form_on_page(response, "reply-form") == as_typed(data)
    assert PositionProposal.objects.filter(author=user).count() == 5
    assert not PositionProposal.objects.filter(claim=data["claim"]).exists()
    # Like the reply and report forms, the page says why and for how long.
    assert notices(response) == [slow_down(wait)]


def test_refused_proposal_does_not_use_up_the_limit(settings, user, topic):
    set_rate(settings, "propose", "1/d")
    client = signed_in(user)
    refused = client.post(propose_url(topic), proposal_data("   "))
    assert refused.status_code == 200

    response = client.post(propose_url(topic), proposal_data("A claim at last"))

    assert response.status_code == 302
    assert list(PositionProposal.objects.values_list("claim", flat=True)) == [
        "A claim at last"
    ]


# Signups -------------------------------------------------------------------


def signup(n: int, **extra):
    """Sign up "newcomer<n>" from a fresh browser; `extra` sets REMOTE_ADDR and headers."""
    data = {"username": f"newcomer{n}", "password1": PASSWORD, "password2": PASSWORD}
    return CsrfClient().post("/accounts/signup/", data, **extra)


def usernames() -> set[str]:
    return set(get_user_model().objects.values_list("username", flat=True))


def test_sixth_signup_from_one_address_is_429_with_the_username_kept(db):
    for n in range(5):
        assert signup(n, REMOTE_ADDR="203.0.113.5").status_code == 302

    response = signup(5, REMOTE_ADDR="203.0.113.5")

    assert response.status_code == 429
    wait = retry_after(response)
    assert 3600 - 60 <= wait <= 3600
    assert notices(response) == [
        f"Too many accounts were created from your address recently. Wait {wait} "
        "seconds and try again; your username is still below."
    ]
    assert form_values(page(response))["username"] == ["newcomer5"]
    assert usernames() == {f"newcomer{n}" for n in range(5)}


def test_signup_limit_is_per_address(db):
    for n in range(5):
        signup(n, REMOTE_ADDR="203.0.113.5")

    response = signup(5, REMOTE_ADDR="203.0.113.6")

    assert response.status_code == 302
    assert "newcomer5" in usernames()


def test_signups_from_one_ipv6_64_count_together(db):
    """One home or server holds a whole /64: rotating through it must not reset the count."""
    for n in range(5):
        address = "2001:db8::1" if n % 2 else "2001:db8::2"
        assert signup(n, REMOTE_ADDR=address).status_code == 302

    same_network = signup(5, REMOTE_ADDR="2001:db8::ffff:3")
    other_network = signup(6, REMOTE_ADDR="2001:db8:0:1::1")

    assert same_network.status_code == 429
    assert other_network.status_code == 302
    assert usernames() == {f"newcomer{n}" for n in (0, 1, 2, 3, 4, 6)}


def test_signup_ignores_x_forwarded_for_by_default(db):
    for n in range(5):
        signup(n, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")

    response = signup(5, HTTP_X_FORWARDED_FOR="198.51.100.99")

    assert response.status_code == 429
    assert "newcomer5" not in usernames()


def test_signup_behind_a_trusted_proxy_counts_the_forwarded_address(settings, db):
    settings.STANDPOINT_TRUSTED_PROXIES = ["127.0.0.1"]
    for n in range(5):
        assert signup(n, HTTP_X_FORWARDED_FOR="5.6.7.8").status_code == 302

    # The right-most hop the proxy did not vouch for is the client.
    spoofed = signup(5, HTTP_X_FORWARDED_FOR="1.2.3.4, 5.6.7.8")
    elsewhere = signup(6, HTTP_X_FORWARDED_FOR="5.6.7.8, 1.2.3.4")

    assert spoofed.status_code == 429
    assert elsewhere.status_code == 302
    assert usernames() == {f"newcomer{n}" for n in (0, 1, 2, 3, 4, 6)}


def address(remote_addr: str, forwarded_for: str | None = None) -> str:
    headers = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return limits.client_address(RequestFactory().get("/", **headers))


def test_client_address_without_trusted_proxies_is_remote_addr(settings):
    settings.STANDPOINT_TRUSTED_PROXIES = []

    assert address("203.0.113.5", "1.2.3.4") == "203.0.113.5"
    assert address("10.0.0.1", "1.2.3.4, 10.0.0.2") == "10.0.0.1"


def test_client_address_skips_hops_inside_a_trusted_network(settings):
    settings.STANDPOINT_TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8::/48"]

    assert address("10.1.2.3", "1.2.3.4, 203.0.113.9, 10.9.9.9") == "203.0.113.9"
    assert address("2001:db8::1", "2001:db8::2, 2001:db8:ffff::9, 2001:db8::3") == (
        "2001:db8:ffff::9"
    )
    # A client outside the network cannot forward anything.
    assert address("192.0.2.1", "1.2.3.4") == "192.0.2.1"


def test_client_address_stops_at_a_malformed_hop(settings):
    settings.STANDPOINT_TRUSTED_PROXIES = ["10.0.0.0/8"]

    assert address("10.1.2.3", "1.2.3.4, not-an-address") == "10.1.2.3"
    assert address("10.1.2.3", "1.2.3.4, 999.1.1.1, 10.0.0.7") == "10.0.0.7"
    assert address("10.1.2.3", "") == "10.1.2.3"
    assert address("10.1.2.3") == "10.1.2.3"


def test_client_address_trusts_a_proxy_seen_as_an_ipv4_mapped_address(settings):
    """A dual-stack socket reports 127.0.0.1 as ::ffff:127.0.0.1."""
    settings.STANDPOINT_TRUSTED_PROXIES = ["127.0.0.1"]

    assert address("::ffff:127.0.0.1", "203.0.113.9") == "203.0.113.9"
    assert address("::ffff:127.0.0.1") == "127.0.0.1"


def test_client_address_reads_hops_written_with_a_port(settings):
    settings.STANDPOINT_TRUSTED_PROXIES = ["127.0.0.1"]

    assert address("127.0.0.1", "203.0.113.9:4711") == "203.0.113.9"
    assert address("127.0.0.1", "[2001:db8::1]:4711") == "2001:db8::1"
    assert address("127.0.0.1", "198.51.100.1, 203.0.113.9:4711") == "203.0.113.9"


def test_client_address_behind_a_proxy_on_a_unix_socket(settings):
    """Gunicorn on a Unix socket sees no peer address: REMOTE_ADDR is empty."""
    settings.STANDPOINT_TRUSTED_PROXIES = ["unix", "10.0.0.0/8"]

    assert address("", "1.2.3.4") == "1.2.3.4"
    assert address("", "1.2.3.4, 10.0.0.5") == "1.2.3.4"
    assert address("", "") == ""
    assert address("") == ""
    # A request over TCP is read as before: its peer is no proxy of ours.
    assert address("203.0.113.5", "1.2.3.4") == "203.0.113.5"


def test_client_address_on_a_unix_socket_ignores_the_header_unless_trusted(settings):
    settings.STANDPOINT_TRUSTED_PROXIES = ["10.0.0.0/8"]

    assert address("", "1.2.3.4") == ""


def key(remote_addr: str) -> str:
    return limits.client_key(RequestFactory().get("/", REMOTE_ADDR=remote_addr))


def test_client_key_is_the_ipv6_64_or_the_ipv4_address():
    assert key("2001:db8::1") == "2001:db8::/64"
    assert key("2001:db8::ffff:3") == "2001:db8::/64"
    assert key("2001:db8:0:1::1") == "2001:db8:0:1::/64"
    assert key("203.0.113.5") == "203.0.113.5"
    assert key("::ffff:203.0.113.5") == "203.0.113.5"


# Login cool-off ------------------------------------------------------------


def sign_in(username: str, password: str, **extra):
    """A sign-in attempt from a fresh browser; `extra` sets REMOTE_ADDR."""
    client = CsrfClient()
    response = client.post(
        "/accounts/login/", {"username": username, "password": password}, **extra
    )
    return client, response


def fail(username: str, times: int, **extra) -> None:
    for _ in range(times):
        _, response = sign_in(username, "wrong password", **extra)
        assert response.status_code == 200


def test_sixth_sign_in_after_five_failures_waits_even_with_the_right_password(user):
    fail(user.username, 5)

    client, response = sign_in(user.username, PASSWORD)

    assert response.status_code == 429
    wait = retry_after(response)
    assert 15 * 60 - 60 <= wait <= 15 * 60
    assert notices(response) == [
        f"Too many failed sign-ins for this username from your address. Wait {wait} "
        "seconds and try again, or sign in from another network."
    ]
    assert form_values(page(response))["username"] == [user.username]
    assert "_auth_user_id" not in client.session


def test_failures_in_any_letter_case_count_against_one_username(user):
    fail(user.username.upper(), 3)
    fail(user.username, 2)

    _, response = sign_in(user.username, PASSWORD)

    assert response.status_code == 429


def test_cool_off_does_not_lock_the_user_out_from_another_address(user):
    fail(user.username, 5, REMOTE_ADDR="203.0.113.5")

    client, response = sign_in(user.username, PASSWORD, REMOTE_ADDR="198.51.100.7")

    assertRedirects(response, "/", fetch_redirect_response=False)
    assert client.session["_auth_user_id"] == str(user.pk)


def test_cool_off_does_not_touch_other_usernames_from_the_same_address(user):
    other = make_user()
    fail(user.username, 5)

    client, response = sign_in(other.username, PASSWORD)

    assertRedirects(response, "/", fetch_redirect_response=False)
    assert client.session["_auth_user_id"] == str(other.pk)


def test_successful_sign_in_clears_the_failures(user):
    fail(user.username, 4)
    _, response = sign_in(user.username, PASSWORD)
    assert response.status_code == 302
    fail(user.username, 4)

    client, response = sign_in(user.username, PASSWORD)

    assertRedirects(response, "/", fetch_redirect_response=False)
    assert client.session["_auth_user_id"] == str(user.pk)


def test_cool_off_ends_when_its_period_has_passed(settings, user):
    set_rate(settings, "login", "5/1s")
    fail(user.username, 5)
    assert sign_in(user.username, PASSWORD)[1].status_code == 429

    time.sleep(1.1)
    client, response = sign_in(user.username, PASSWORD)

    assertRedirects(response, "/", fetch_redirect_response=False)
    assert client.session["_auth_user_id"] == str(user.pk)


def admin_sign_in(username: str, password: str, **extra):
    """A sign-in attempt on the admin's own form, from a fresh browser."""
    client = CsrfClient()
    data = {"username": username, "password": password, "next": "/admin/"}
    response = client.post("/admin/login/?next=/admin/", data, **extra)
    return client, response


def admin_errors(response) -> list[str]:
    found = re.findall(r'<p class="errornote">(.*?)</p>', page(response), re.S)
    return [squash(error) for error in found]


def test_admin_sign_in_cools_off_after_five_failures(moderator):
    for _ in range(5):
        _, response = admin_sign_in(moderator.username, "wrong password")
        assert response.status_code == 200
        assert "_auth_user_id" not in response.wsgi_request.session

    client, response = admin_sign_in(moderator.username, PASSWORD)

    assert response.status_code == 429
    wait = retry_after(response)
    assert 15 * 60 - 60 <= wait <= 15 * 60
    assert admin_errors(response) == [
        f"Too many failed sign-ins for this username from your address. Wait {wait} "
        "seconds and try again, or sign in from another network."
    ]
    assert form_values(page(response))["username"] == [moderator.username]
    assert "_auth_user_id" not in client.session
    # One count for the pair, whichever form the guesses came through.
    assert sign_in(moderator.username, PASSWORD)[1].status_code == 429

    client, response = admin_sign_in(
        moderator.username, PASSWORD, REMOTE_ADDR="198.51.100.7"
    )

    assertRedirects(response, "/admin/", fetch_redirect_response=False)
    assert client.session["_auth_user_id"] == str(moderator.pk)


@pytest.mark.parametrize("form", ["site", "admin"])
@pytest.mark.parametrize("spelling", ["victim ", " victim", "\tvictim", "ｖictim"])
def test_cool_off_holds_for_every_spelling_the_form_reads_as_that_username(
    db, form, spelling
):
    """The form strips and NFKC-normalises the name before the password check."""
    victim = make_user(username="victim")
    attempt = sign_in
    if form == "admin":
        services.user_make_moderator(user=victim)
        attempt = admin_sign_in
    for _ in range(5):
        assert attempt("victim", "wrong password")[1].status_code == 200

    _, guess = attempt(spelling, "another guess")
    client, response = attempt(spelling, PASSWORD)

    assert guess.status_code == 429
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_failures_under_any_spelling_count_against_one_username(user):
    fail(f"{user.username} ", 2)
    fail(f"\t{user.username}", 2)
    fail(user.username.upper(), 1)

    client, response = sign_in(user.username, PASSWORD)

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_get_at_most_five_passwords_checked(monkeypatch):
    """Twenty guesses at once, each password check slow as a real hasher's.

    Threads with the test client, on the test database (committed rows, so
    every thread's connection sees the user).
    """
    victim = make_user()
    checked = []
    check_password = ModelBackend.authenticate

    def slow_check(self, request, username=None, password=None, **kwargs):
        checked.append(password)
        time.sleep(0.3)
        return check_password(self, request, username, password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", slow_check)
    browsers = [CsrfClient() for _ in range(20)]
    for browser in browsers:
        browser.get("/accounts/login/")
    start = threading.Barrier(len(browsers))
    codes = []

    def guess(browser, n):
        try:
            start.wait()
            data = {"username": victim.username, "password": f"guess {n}"}
            codes.append(browser.post("/accounts/login/", data).status_code)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=guess, args=(browser, n))
        for n, browser in enumerate(browsers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(checked) == 5
    assert sorted(codes) == [200] * 5 + [429] * 15


def test_filling_the_page_cache_leaves_a_cool_off_in_place(user):
    fail(user.username, 5)

    # Far more than the page cache holds: it must make room by dropping entries.
    for n in range(1000):
        cache.set(f"page:filler-{n}", "x" * 100)

    _, response = sign_in(user.username, PASSWORD)
    assert response.status_code == 429


# Windows ---------------------------------------------------------------------


@pytest.fixture
def cache_counts(settings):
    """Counts in the `limits` cache, as with Redis (here its local-memory stand-in)."""
    settings.STANDPOINT_LIMIT_COUNTS = "cache"


def test_a_closed_database_window_starts_again_from_zero(settings, db):
    settings.STANDPOINT_LIMIT_COUNTS = "database"
    set_rate(settings, "login", "5/15m")
    who = ("ada", "203.0.113.5")
    for _ in range(5):
        limits.take("login", *who)
    with pytest.raises(limits.Limited):
        limits.take("login", *who)
    RateCount.objects.update(until=time.time() - 1)  # the window closes

    for _ in range(5):  # counts 1 to 5 of the new window, none refused
        limits.take("login", *who)

    with pytest.raises(limits.Limited):
        limits.take("login", *who)
    assert RateCount.objects.get().count == 5, "the refused take counted nothing"
    assert RateCount.objects.get().until > time.time() + 15 * 60 - 60


def test_a_new_window_starts_from_zero_whatever_an_old_count_outlived(
    settings, cache_counts
):
    """A window's end and its count are two keys that expire apart.

    The count's expiry is restated in whole seconds, so it can outlive the
    window's end: the next window must not inherit it and cool off at once.
    """
    set_rate(settings, "login", "5/15m")
    who = ("ada", "203.0.113.5")
    for _ in range(5):
        limits.take("login", *who)
    with pytest.raises(limits.Limited):
        limits.take("login", *who)
    until_key = f"{limits._key('login', Rate(5, 900), who)}:until"
    caches[limits.CACHE].delete(until_key)  # the window ends; its count is left

    for _ in range(5):  # counts 1 to 5 of the new window, none refused
        limits.take("login", *who)

    with pytest.raises(limits.Limited):
        limits.take("login", *who)


def test_a_take_arriving_while_a_window_opens_still_counts(
    settings, monkeypatch, cache_counts
):
    """Opening a window is several cache calls; a parallel take can land between them.

    With "1/15m" one of two takes at the window's start must be refused, or
    parallel guesses slip past the count (seen with Redis, one network trip
    apart).
    """
    set_rate(settings, "login", "1/15m")
    who = ("ada", "203.0.113.5")
    counts = caches[limits.CACHE]
    add = counts.add
    outcomes = []

    def attempt():
        try:
            limits.take("login", *who)
            outcomes.append("counted")
        except limits.Limited:
            outcomes.append("refused")

    def window_opens_then_a_twin_arrives(key, *args, **kwargs):
        added = add(key, *args, **kwargs)
        if added and key.endswith(":until") and not outcomes:
            attempt()
        return added

    monkeypatch.setattr(counts, "add", window_opens_then_a_twin_arrives)

    attempt()

    assert sorted(outcomes) == ["counted", "refused"]


# Counts in Redis -------------------------------------------------------------


@pytest.fixture
def redis_counts():
    """The raw Redis client behind the counts; the test skips without Redis, or
    fails when STANDPOINT_REQUIRE_REDIS is set."""
    counts = caches[limits.CACHE]
    if not isinstance(counts, RedisCache):
        unavailable(REQUIRE_REDIS, "the counts are in Redis only when REDIS_URL is set")
    client = counts._cache.get_client(write=True)
    if trouble := redis_trouble(client):
        unavailable(REQUIRE_REDIS, f"the counts' Redis: {trouble}")
    return client


def test_a_count_that_expires_during_its_increment_still_expires(
    settings, monkeypatch, redis_counts
):
    """Django's incr() is EXISTS then INCR: a key expiring in between comes back forever."""
    set_rate(settings, "post", "1/2s")
    limits.take("post", "ada")
    time.sleep(1.5)
    exists = type(redis_counts).exists

    def exists_then_expire(self, *keys):
        found = exists(self, *keys)
        time.sleep(1.0)  # the window ends now, before INCR
        return found

    with monkeypatch.context() as patched:
        patched.setattr(type(redis_counts), "exists", exists_then_expire)
        limits.take("post", "ada")

    ttls = {key: redis_counts.ttl(key) for key in redis_counts.keys("*limit:*")}
    assert ttls, "no count stored"
    assert all(0 < ttl <= 2 for ttl in ttls.values()), ttls


# Page caching ----------------------------------------------------------------

CACHED_PAGE_QUERIES = 1  # the topic's stamp, to revalidate


@pytest.mark.parametrize("query", ["?page=2", f"?stance={ENDANGERS}"])
def test_plainly_written_page_and_filter_queries_are_stored(
    settings, client, topic, query, django_assert_max_num_queries
):
    settings.STANDPOINT_POSTS_PER_PAGE = 1
    make_post(topic=topic, body="Reply on page one.")
    make_post(topic=topic, body="Reply on page two.")
    url = f"/t/{topic.slug}/{query}"
    first = client.get(url)

    with django_assert_max_num_queries(CACHED_PAGE_QUERIES) as ctx:
        again = client.get(url)

    assert len(ctx) == CACHED_PAGE_QUERIES
    assert again.status_code == 200
    assert again.content == first.content


@pytest.mark.parametrize("query", ["?page=01", "?page=001", "?page=1&page=1"])
def test_oddly_written_page_numbers_are_served_but_never_stored(
    client, topic, query, django_assert_max_num_queries
):
    """Endless spellings of page 1 must not each take a place in the cache."""
    make_post(topic=topic, body="The first reply.")
    url = f"/t/{topic.slug}/{query}"
    client.get(url)

    with django_assert_max_num_queries(20) as ctx:
        again = client.get(url)

    assert again.status_code == 200
    assert b"The first reply." in again.content
    assert len(ctx) > CACHED_PAGE_QUERIES


# Rates configuration -------------------------------------------------------


def test_parse_rates_reads_counts_and_periods():
    assert parse_rates("1/10s, 30/h") == (Rate(1, 10), Rate(30, 3600))
    assert parse_rates("5/15m") == (Rate(5, 900),)
    assert parse_rates("20/d") == (Rate(20, 86400),)
    assert parse_rates("2/m,7/2h") == (Rate(2, 60), Rate(7, 7200))


@pytest.mark.parametrize("text", ["off", "OFF", " off ", "", "   "])
def test_parse_rates_off_or_empty_means_no_limit(text):
    assert parse_rates(text) == ()


@pytest.mark.parametrize(
    "text",
    [
        "30",
        "30/hour",
        "ten/h",
        "0/h",
        "1/0s",
        "5/00s",
        "-1/h",
        "1/10x",
        "1/10s,",
        "30 per h",
        "1/10s; 30/h",
        "1.5/h",
    ],
)
def test_parse_rates_rejects_malformed_rates(text):
    with pytest.raises(ImproperlyConfigured, match="is not like “30/h” or “1/10s”"):
        parse_rates(text)


def test_parse_rates_reads_a_rate_given_twice_once():
    assert parse_rates("1/10s, 1/10s") == (Rate(1, 10),)
    assert parse_rates("2/m, 2/60s, 30/h") == (Rate(2, 60), Rate(30, 3600))


def test_a_rate_given_twice_allows_its_count_once(settings, user, topic):
    """Written twice, a rate must not count each reply twice."""
    set_rate(settings, "post", "2/m, 2/60s")
    client = signed_in(user)

    first = client.post(reply_url(topic), reply_data(body="One."))
    second = client.post(reply_url(topic), reply_data(body="Two."))
    third = client.post(reply_url(topic), reply_data(body="Three."))

    assert (first.status_code, second.status_code, third.status_code) == (302, 302, 429)
    assert Post.objects.filter(author=user).count() == 2


def forum_errors() -> dict[str, str]:
    return {e.id: e.msg for e in run_checks() if e.id and e.id.startswith("forum.")}


def test_check_is_clean_with_the_default_settings(db):
    assert forum_errors() == {}


def test_check_reports_a_bad_rate_as_e001(settings, db):
    set_rate(settings, "report", "lots/day")

    assert forum_errors() == {
        "forum.E001": "Rate 'lots/day' is not like “30/h” or “1/10s” (a count, a "
        "slash, an optional number and one of s, m, h, d)."
    }


def test_check_reports_a_bad_trusted_proxy_as_e002(settings, db):
    settings.STANDPOINT_TRUSTED_PROXIES = ["10.0.0.0/8", "proxy.example"]

    assert forum_errors() == {
        "forum.E002": "TRUSTED_PROXIES entry 'proxy.example' is not an address or "
        "network."
    }


def test_check_accepts_unix_as_a_trusted_proxy(settings, db):
    settings.STANDPOINT_TRUSTED_PROXIES = ["unix", "127.0.0.1", "10.0.0.0/8"]

    assert forum_errors() == {}


def test_check_reports_a_report_threshold_below_one_as_e003(settings, db):
    settings.STANDPOINT_REPORT_THRESHOLD = 0

    assert forum_errors() == {
        "forum.E003": "REPORT_THRESHOLD must be at least 1: at 0 any post would be "
        "hidden by the first report."
    }
