import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import Client
from pytest_django.asserts import assertContains, assertRedirects

from forum import services
from forum.models import ModerationAction, Post, PostStatus, Topic

from .browser_form import form_values
from .factories import HUMAN_DISCLOSURE, make_post, make_topic, make_user, stance

ENDANGERS = "supports-ban-endangers-defenders"
NOT_ENDANGERS = "opposes-ban-endangers-defenders"
JUSTIFIED = "supports-ban-is-justified"
AI = {"authorship": "ai_generated", "ai_model": "Claude", "ai_maker": "Anthropic"}


def change_form_data(response, **changes):
    """The admin change form as the page shows it, with `changes` applied."""
    form = re.search(
        r'<form [^>]*id="\w+_form".*?</form>', response.content.decode(), re.S
    )
    data = {
        name: values if len(values) > 1 else values[0]
        for name, values in form_values(form.group(0)).items()
        if "__prefix__" not in name
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


@pytest.fixture(params=["superuser", "moderator"])
def staff(request, client, db):
    """A client signed in as a superuser, then as a member of Moderators."""
    if request.param == "superuser":
        return request.getfixturevalue("admin_client")
    client.force_login(request.getfixturevalue("moderator"))
    return client


@pytest.fixture
def moderated(db):
    """Two topics and four posts that differ in status, authorship and stance."""
    topic, other = make_topic(title="Export ban"), make_topic(title="Open letter")
    ada, grace = make_user(username="ada"), make_user(username="grace")
    posts = {
        "plain": make_post(topic=topic, author=ada, body="Defenders lose tools."),
        "ai": make_post(
            topic=topic,
            author=grace,
            body="A model wrote this.",
            stances=[stance(topic, JUSTIFIED)],
            **AI,
        ),
        "hidden": make_post(topic=topic, author=ada, body="Buy cheap watches."),
        "elsewhere": make_post(topic=other, author=grace, body="Signatories agree."),
    }
    services.posts_set_status(
        posts=Post.objects.filter(pk=posts["hidden"].pk),
        status=PostStatus.HIDDEN,
        actor=make_user(username="earlier-moderator", is_staff=True),
        reason="Test reason.",
    )
    return topic, other, posts


def listed(response) -> set[int]:
    return {post.pk for post in response.context["cl"].result_list}


# Post changelist ------------------------------------------------------------


def test_post_changelist_shows_excerpt_topic_author_stances_and_status(
    staff, moderated
):
    topic, _, posts = moderated

    response = staff.get("/admin/forum/post/")

    assert response.status_code == 200
    assert listed(response) == {post.pk for post in posts.values()}
    assertContains(response, "A model wrote this.")
    assertContains(response, "Supports: The ban is justified")
    assertContains(response, "Export ban")
    assertContains(response, "grace")


def test_post_changelist_offers_topic_status_authorship_and_stance_filters(
    staff, moderated
):
    topic, other, _ = moderated

    response = staff.get("/admin/forum/post/")

    cl = response.context["cl"]
    params = {
        spec.title: [choice["query_string"] for choice in spec.choices(cl)][1:]
        for spec in cl.filter_specs
    }
    assert params["status"] == ["?status__exact=published", "?status__exact=hidden"]
    assert "?authorship__exact=ai_generated" in params["who wrote it"]
    assert len(params["topic"]) == 2
    # Only stances some post carries are offered.
    used = [
        stance(topic, ENDANGERS),
        stance(topic, JUSTIFIED),
        stance(other, ENDANGERS),
    ]
    assert sorted(params["stance"]) == sorted(
        f"?stance_links__tag__id__exact={s.pk}" for s in used
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (lambda topic: {"status__exact": "hidden"}, {"hidden"}),
        (lambda topic: {"status__exact": "published"}, {"plain", "ai", "elsewhere"}),
        (lambda topic: {"authorship__exact": "ai_generated"}, {"ai"}),
        (lambda topic: {"topic__id__exact": topic.pk}, {"plain", "ai", "hidden"}),
        (
            lambda topic: {"stance_links__tag__id__exact": stance(topic, JUSTIFIED).pk},
            {"ai"},
        ),
        (
            lambda topic: {"topic__id__exact": topic.pk, "status__exact": "published"},
            {"plain", "ai"},
        ),
        (lambda topic: {"q": "watches"}, {"hidden"}),
        (lambda topic: {"q": "grace"}, {"ai", "elsewhere"}),
    ],
    ids=[
        "hidden",
        "published",
        "authorship",
        "topic",
        "stance",
        "topic and status",
        "search body",
        "search author",
    ],
)
def test_post_changelist_filters_and_searches(staff, moderated, query, expected):
    topic, _, posts = moderated

    response = staff.get("/admin/forum/post/", query(topic))

    assert response.status_code == 200
    assert listed(response) == {posts[name].pk for name in expected}


def test_hide_posts_action_asks_for_a_reason_then_hides_only_the_selected(
    staff, moderated
):
    topic, _, posts = moderated
    chosen = [posts["plain"].pk, posts["hidden"].pk]
    action = {"action": "hide_posts", "_selected_action": chosen}

    asked = staff.post("/admin/forum/post/", {**action, "index": 0})
    assertContains(asked, "Public reason")
    assert Post.objects.get(pk=posts["plain"].pk).status == PostStatus.PUBLISHED
    response = staff.post("/admin/forum/post/", {**action, "reason": "Advertising."})

    assertRedirects(response, "/admin/forum/post/", fetch_redirect_response=False)
    statuses = dict(Post.objects.values_list("pk", "status"))
    assert statuses == {
        posts["plain"].pk: "hidden",
        posts["ai"].pk: "published",
        posts["hidden"].pk: "hidden",
        posts["elsewhere"].pk: "published",
    }
    assert Post.objects.get(pk=posts["plain"].pk).hidden_reason == "Advertising."
    assertContains(staff.get("/admin/forum/post/"), "1 post(s) hidden.")
    assertContains(
        Client().get(f"/t/{topic.slug}/"), "Hidden by moderators: Advertising."
    )


def test_hide_posts_action_without_a_reason_asks_again_and_changes_nothing(
    staff, moderated
):
    _, _, posts = moderated
    action = {"action": "hide_posts", "_selected_action": [posts["plain"].pk]}

    response = staff.post("/admin/forum/post/", {**action, "reason": "  "})

    assertContains(response, "Give a reason: the public moderation log shows it.")
    assert Post.objects.get(pk=posts["plain"].pk).status == PostStatus.PUBLISHED


def test_restore_posts_action_publishes_the_selected_posts(staff, moderated):
    _, _, posts = moderated

    response = staff.post(
        "/admin/forum/post/",
        {
            "action": "restore_posts",
            "_selected_action": [posts["hidden"].pk],
            "reason": "Not spam after all.",
        },
    )

    assertRedirects(response, "/admin/forum/post/", fetch_redirect_response=False)
    restored = Post.objects.get(pk=posts["hidden"].pk)
    assert (restored.status, restored.hidden_reason) == (PostStatus.PUBLISHED, "")
    assertContains(staff.get("/admin/forum/post/"), "1 post(s) restored.")


def test_admin_cannot_add_posts(staff, db):
    response = staff.get("/admin/forum/post/add/")

    assert response.status_code == 403
    assert response.context is None or "Add post" not in response.content.decode()


def test_no_one_deletes_posts_in_the_admin_hiding_is_the_tool(staff, moderated):
    """A delete would skip the services: the stored counts and caches would drift."""
    _, _, posts = moderated
    response = staff.get("/admin/forum/post/")

    actions = [
        name for name, _ in response.context["action_form"].fields["action"].choices
    ]
    assert actions == [
        "",
        "hide_posts",
        "restore_posts",
        "verify_disclosures",
        "dispute_disclosures",
        "correct_disclosures",
        "clear_reviews",
    ]
    assert (
        staff.get(f"/admin/forum/post/{posts['plain'].pk}/delete/").status_code == 403
    )
    assert Post.objects.filter(pk=posts["plain"].pk).exists()


# Post change form -----------------------------------------------------------


def test_post_change_form_breaking_a_disclosure_rule_is_refused(staff, moderated):
    _, _, posts = moderated
    post = posts["plain"]
    url = f"/admin/forum/post/{post.pk}/change/"
    form = staff.get(url)

    response = staff.post(
        url, change_form_data(form, authorship="ai_generated", body="Edited body.")
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["ai_model"] == ["Name the AI model you used, e.g. “Claude”."]
    assert errors["ai_maker"] == [
        "Name the company or group that made the AI model, e.g. “Anthropic”."
    ]
    assertContains(response, "Name the AI model you used, e.g. “Claude”.")
    post.refresh_from_db()
    assert (post.authorship, post.body, post.edited) == (
        "human",
        "Defenders lose tools.",
        None,
    )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"stances": [ENDANGERS, NOT_ENDANGERS]},
            "stances",
            "A reply cannot both support and oppose “The ban endangers defenders”.",
        ),
        (
            {"stances": []},
            "stances",
            "Choose at least one stance: say where this reply stands.",
        ),
        (
            {"conflict": "declared", "conflict_details": "Shares."},
            "conflict_parties",
            "Choose the party or parties your conflict of interest involves.",
        ),
        ({"paid": "yes"}, "paid_by", "Say who pays you, or will, to post on this."),
        (
            {"affiliation": " "},
            "affiliation",
            "Give your relevant employer or organisation, or write “none”.",
        ),
    ],
    ids=[
        "both polarities",
        "no stance",
        "conflict without party",
        "paid without payer",
        "blank affiliation",
    ],
)
def test_post_change_form_applies_the_reply_rules(
    staff, moderated, changes, field, message
):
    _, _, posts = moderated
    post = posts["plain"]
    url = f"/admin/forum/post/{post.pk}/change/"

    response = staff.post(url, change_form_data(staff.get(url), **changes))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [message]
    assert list(post.stances.values_list("slug", flat=True)) == [ENDANGERS]
    assert Post.objects.get(pk=post.pk).edited is None


def test_post_change_form_saves_stances_parties_and_tags(staff, moderated):
    _, _, posts = moderated
    post = posts["plain"]
    url = f"/admin/forum/post/{post.pk}/change/"
    changes = {
        "body": "Defenders lose **tools**.",
        "stances": [NOT_ENDANGERS, JUSTIFIED],
        "tags": "exploits, policy",
        "conflict": "declared",
        "conflict_parties": ["us-government"],
        "conflict_details": "I worked for the agency.",
        "reason": "The author asked us to add their tie to the agency.",
    }

    response = staff.post(url, change_form_data(staff.get(url), **changes))

    assertRedirects(response, "/admin/forum/post/", fetch_redirect_response=False)
    post.refresh_from_db()
    assert sorted(post.stances.values_list("slug", flat=True)) == [
        NOT_ENDANGERS,
        JUSTIFIED,
    ]
    assert sorted(post.tags.names()) == ["exploits", "policy"]
    assert list(post.conflict_parties.values_list("slug", flat=True)) == [
        "us-government"
    ]
    assert (post.conflict, post.conflict_details) == (
        "declared",
        "I worked for the agency.",
    )
    assert post.status == PostStatus.PUBLISHED
    assert post.body_html == "<p>Defenders lose <strong>tools</strong>.</p>\n"
    assert post.edited is not None


# Topic admin ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "field", "before", "after"),
    [
        ("lock_topics", "is_locked", False, True),
        ("unlock_topics", "is_locked", True, False),
        ("pin_topics", "is_pinned", False, True),
        ("unpin_topics", "is_pinned", True, False),
    ],
)
def test_topic_actions_set_lock_and_pin(staff, action, field, before, after):
    chosen, untouched = make_topic(**{field: before}), make_topic(**{field: before})

    response = staff.post(
        "/admin/forum/topic/",
        {"action": action, "_selected_action": [chosen.pk], "reason": "Because."},
    )

    assertRedirects(response, "/admin/forum/topic/", fetch_redirect_response=False)
    assert getattr(Topic.objects.get(pk=chosen.pk), field) is after
    assert getattr(Topic.objects.get(pk=untouched.pk), field) is before


def test_locked_by_the_admin_a_topic_takes_no_replies(staff, topic):
    staff.post(
        "/admin/forum/topic/",
        {"action": "lock_topics", "_selected_action": [topic.pk], "reason": "Done."},
    )
    writer = make_user()
    staff.force_login(writer)

    response = staff.post(
        f"/t/{topic.slug}/reply/",
        {
            "body": "Late.",
            "stances": ENDANGERS,
            "authorship": "human",
            "affiliation": "none",
            "paid": "no",
            "conflict": "none",
            "attest": "on",
        },
    )

    assert response.status_code == 403
    assert not Post.objects.exists()


def test_topic_change_page_shows_party_and_position_inlines(staff, topic):
    response = staff.get(f"/admin/forum/topic/{topic.pk}/change/")

    assert response.status_code == 200
    inlines = [
        inline.formset.model.__name__
        for inline in response.context["inline_admin_formsets"]
    ]
    assert inlines == ["Party", "Position"]
    assertContains(response, 'value="US government"')
    assertContains(response, 'value="The ban endangers defenders"')


def test_topic_change_adding_a_position_gives_it_both_stances(staff, topic):
    url = f"/admin/forum/topic/{topic.pk}/change/"
    data = change_form_data(
        staff.get(url),
        **{
            "positions-TOTAL_FORMS": "3",
            "positions-2-claim": "Rules should be minimal",
            "positions-2-slug": "rules-minimal",
            "positions-2-summary": "",
            "positions-2-quote": "Rules should be minimal.",
            "positions-2-order": "2",
            "positions-2-topic": str(topic.pk),
        },
    )

    response = staff.post(url, data)

    assertRedirects(response, "/admin/forum/topic/", fetch_redirect_response=False)
    position = topic.positions.get(slug="rules-minimal")
    assert sorted(position.stances.values_list("slug", flat=True)) == [
        "opposes-rules-minimal",
        "supports-rules-minimal",
    ]


@pytest.mark.parametrize(
    ("inline", "field", "value"),
    [
        ("positions", "claim", "Rules are \u202eminimal"),
        ("parties", "name", "Anthropic\u2066 PBC"),
    ],
    ids=["position claim", "party name"],
)
def test_topic_change_refuses_direction_controls_in_its_parts_beside_the_field(
    staff, topic, inline, field, value
):
    url = f"/admin/forum/topic/{topic.pk}/change/"
    data = change_form_data(staff.get(url), **{f"{inline}-0-{field}": value})

    response = staff.post(url, data)

    assert response.status_code == 200
    formset = next(
        f
        for f in response.context["inline_admin_formsets"]
        if f.formset.prefix == inline
    ).formset
    assert [e.code for e in formset.forms[0].errors.as_data()[field]] == [
        "bidi_control"
    ]
    assert not topic.positions.filter(claim=value).exists()
    assert not topic.parties.filter(name=value).exists()


def test_topic_change_holds_the_article_disclosure_to_the_rules(staff, topic):
    url = f"/admin/forum/topic/{topic.pk}/change/"

    response = staff.post(
        url, change_form_data(staff.get(url), authorship="ai_generated")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["ai_model"] == [
        "Name the AI model you used, e.g. “Claude”."
    ]
    assert Topic.objects.get(pk=topic.pk).authorship == "human"


# Moderator rights -----------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/admin/auth/user/", "/admin/auth/group/", "/admin/auth/user/add/"]
)
def test_moderator_cannot_manage_users(client, moderator, url):
    client.force_login(moderator)

    assert client.get(url).status_code == 403


def test_moderator_reaches_posts_and_topics(client, moderator, topic):
    client.force_login(moderator)

    assert client.get("/admin/forum/post/").status_code == 200
    assert client.get("/admin/forum/topic/").status_code == 200
    assert client.get(f"/admin/forum/topic/{topic.pk}/change/").status_code == 200


def test_reader_is_kept_out_of_the_admin(client, user):
    client.force_login(user)

    response = client.get("/admin/forum/post/")

    assertRedirects(
        response, "/admin/login/?next=/admin/forum/post/", fetch_redirect_response=False
    )


def test_stances_are_read_only_in_the_admin(staff, topic):
    assert staff.get("/admin/forum/stance/").status_code == 200
    assert staff.get("/admin/forum/stance/add/").status_code == 403
    assert (
        staff.get(f"/admin/forum/stance/{stance(topic).pk}/delete/").status_code == 403
    )


def test_reply_to_a_hidden_post_can_still_be_moderated(staff, moderated):
    topic, _, posts = moderated
    reply = make_post(topic=topic, parent=posts["plain"], body="Agreed.")
    services.posts_set_status(
        posts=Post.objects.filter(pk=posts["plain"].pk),
        status=PostStatus.HIDDEN,
        actor=None,
        reason="Test reason.",
    )
    url = f"/admin/forum/post/{reply.pk}/change/"

    response = staff.post(
        url,
        change_form_data(staff.get(url), body="Agreed, edited.", reason="Typo fixed."),
    )

    assertRedirects(response, "/admin/forum/post/", fetch_redirect_response=False)
    reply.refresh_from_db()
    assert reply.body == "Agreed, edited."
    assert reply.parent_id == posts["plain"].pk


def test_change_forms_cannot_hide_lock_or_pin_without_a_logged_reason(staff, moderated):
    topic, _, posts = moderated
    post_url = f"/admin/forum/post/{posts['plain'].pk}/change/"
    topic_url = f"/admin/forum/topic/{topic.pk}/change/"

    staff.post(post_url, change_form_data(staff.get(post_url), status="hidden"))
    staff.post(
        topic_url,
        change_form_data(staff.get(topic_url), is_locked="on", is_pinned="on"),
    )

    assert Post.objects.get(pk=posts["plain"].pk).status == PostStatus.PUBLISHED
    topic.refresh_from_db()
    assert (topic.is_locked, topic.is_pinned) == (False, False)
    assert not ModerationAction.objects.exclude(action="hide").exists()


def test_party_named_in_a_declared_conflict_cannot_be_deleted(staff, topic):
    make_post(
        topic=topic,
        conflict="declared",
        conflict_parties=[topic.parties.get(slug="anthropic")],
        conflict_details="I work there.",
    )
    url = f"/admin/forum/topic/{topic.pk}/change/"
    page = staff.get(url)
    index = next(
        i
        for i, form in enumerate(page.context["inline_admin_formsets"][0].formset)
        if form.instance.slug == "anthropic"
    )

    response = staff.post(
        url, change_form_data(page, **{f"parties-{index}-DELETE": "on"})
    )

    assert response.status_code == 200
    assertContains(response, "is named in declared conflicts of interest")
    assert topic.parties.filter(slug="anthropic").exists()


def test_post_change_form_with_the_same_tags_reordered_says_nothing_changed(
    staff, moderated
):
    """The form and post_edit agree on what counts as a change: no 500 between them."""
    topic, _, _ = moderated
    post = make_post(topic=topic, tags=["alpha", "beta"])
    url = f"/admin/forum/post/{post.pk}/change/"

    response = staff.post(
        url, change_form_data(staff.get(url), tags="beta, alpha", reason="Tidy.")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "Nothing has changed: edit the text, stances, tags or disclosure first."
    ]
    assert not post.revisions.exists()


def test_post_change_refused_by_the_service_meanwhile_shows_why_and_logs_nothing(
    staff, moderated, monkeypatch
):
    """A change made between the form's checks and the save: an error, not a 500."""
    _, _, posts = moderated
    post = posts["plain"]
    url = f"/admin/forum/post/{post.pk}/change/"
    shown = staff.get(url)

    def refuse(**kwargs):
        raise ValidationError("Nothing has changed.", code="unchanged")

    monkeypatch.setattr(services, "post_edit", refuse)
    response = staff.post(
        url, change_form_data(shown, body="Changed.", reason="Tidy."), follow=True
    )

    assert response.redirect_chain == [(url, 302)]
    assert "Nothing has changed." in [str(m) for m in response.context["messages"]]
    assert not LogEntry.objects.filter(object_id=str(post.pk)).exists()


# Deleting what the moderation log names ----------------------------------------


def refused_deletion(response, model: str) -> list[str]:
    """The admin's "Cannot delete" page: (what it lacks rights to, what protects it).

    It names the log's lines twice over: the log is read-only in the admin (no
    one may delete them), and each is protected (on_delete=PROTECT).
    """
    assert response.status_code == 200
    assert response.context["title"] == f"Cannot delete {model}"
    text = " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())
    assert (
        "your account doesn't have permission to delete the following types of "
        "objects: moderation action" in text
    )
    assert response.context["perms_lacking"] == {"moderation action"}
    return [re.sub(r"<[^>]+>", "", line) for line in response.context["protected"]]


def test_superuser_cannot_delete_a_topic_the_moderation_log_names(
    admin_client, moderator
):
    """A topic without positions (stances are never deleted): only the log holds it."""
    topic = Topic.objects.create(
        title="Export ban",
        slug="export-ban",
        body="The article.",
        source_publication="The Test Gazette",
        **HUMAN_DISCLOSURE,
    )
    services.topics_set_flag(
        topics=Topic.objects.filter(pk=topic.pk),
        flag="is_locked",
        value=True,
        actor=moderator,
        reason="Settled.",
    )
    url = f"/admin/forum/topic/{topic.pk}/delete/"

    page = admin_client.get(url)
    confirmed = admin_client.post(url, {"post": "yes"})
    bulk = admin_client.post(
        "/admin/forum/topic/",
        {"action": "delete_selected", "_selected_action": [topic.pk], "post": "yes"},
    )

    for response in (page, confirmed, bulk):
        [line] = refused_deletion(response, "topic")
        assert line.startswith("Moderation action: locked a topic")
    assert Topic.objects.filter(pk=topic.pk).exists()
    assert ModerationAction.objects.filter(topic=topic).count() == 1


def test_superuser_cannot_delete_a_user_the_moderation_log_names(
    admin_client, moderator
):
    topic = make_topic()
    services.topics_set_flag(
        topics=Topic.objects.filter(pk=topic.pk),
        flag="is_locked",
        value=True,
        actor=moderator,
        reason="Settled.",
    )
    url = f"/admin/auth/user/{moderator.pk}/delete/"

    page = admin_client.get(url)
    confirmed = admin_client.post(url, {"post": "yes"})
    bulk = admin_client.post(
        "/admin/auth/user/",
        {
            "action": "delete_selected",
            "_selected_action": [moderator.pk],
            "post": "yes",
        },
    )

    for response in (page, confirmed, bulk):
        [line] = refused_deletion(response, "user")
        assert line.startswith("Moderation action: locked a topic")
    assert get_user_model().objects.filter(pk=moderator.pk).exists()
    assert ModerationAction.objects.filter(actor=moderator).count() == 1
