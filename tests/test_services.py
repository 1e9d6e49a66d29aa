from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.utils import timezone
from taggit.models import Tag

from forum import services
from forum.models import ModerationAction, PositionProposal, Post, PostStatus, Topic

from .factories import (
    disclosure,
    edit_post,
    error_codes,
    make_post,
    make_topic,
    make_user,
    stance,
)


@pytest.mark.django_db
def test_post_create_stores_stances_tags_conflict_parties_and_attestation(topic):
    parent = make_post(topic=topic)
    before = timezone.now()

    post = services.post_create(
        topic=topic,
        author=make_user(),
        body="As someone who *works* there…",
        stances=[
            stance(topic, "supports-ban-endangers-defenders"),
            stance(topic, "opposes-ban-is-justified"),
        ],
        tags=["exploits", "open source"],
        parent=parent,
        disclosure=services.DisclosureAnswers(
            authorship="ai_assisted",
            ai_model=" Claude ",
            ai_maker="Anthropic PBC",
            affiliation="Anthropic",
            paid="expected",
            paid_by=" Anthropic ",
            conflict="declared",
            conflict_parties=[topic.parties.get(slug="anthropic")],
            conflict_details="I work at Anthropic.",
        ),
        attested=True,
    )

    post = Post.objects.get(pk=post.pk)
    assert before <= post.attested_at <= timezone.now()
    assert post.created == post.attested_at
    assert post.status == PostStatus.PUBLISHED
    assert post.parent == parent
    assert (post.ai_model, post.paid_by) == ("Claude", "Anthropic")
    assert sorted(post.stances.names()) == [
        "Opposes: The ban is justified",
        "Supports: The ban endangers defenders",
    ]
    assert sorted(post.tags.names()) == ["exploits", "open source"]
    assert list(post.conflict_parties.values_list("slug", flat=True)) == ["anthropic"]
    assert post.body_html == "<p>As someone who <em>works</em> there…</p>\n"
    assert post.maker_party == topic.parties.get(slug="anthropic")


@pytest.mark.django_db
def test_post_create_on_a_locked_topic_stores_nothing():
    topic = make_topic(is_locked=True)

    with pytest.raises(ValidationError) as excinfo:
        make_post(topic=topic, tags=["locked"])

    assert excinfo.value.code == "topic_locked"
    assert excinfo.value.messages == ["This topic is locked: it takes no new replies."]
    assert not Post.objects.exists()
    assert not Tag.objects.exists()


@pytest.mark.django_db
def test_post_create_rereads_the_lock_instead_of_trusting_a_stale_topic(topic):
    Topic.objects.filter(pk=topic.pk).update(is_locked=True)
    assert topic.is_locked is False

    with pytest.raises(ValidationError) as excinfo:
        make_post(topic=topic, tags=["late"])

    assert excinfo.value.code == "topic_locked"
    assert not Post.objects.exists()
    assert not Tag.objects.exists()


@pytest.mark.django_db
def test_post_create_without_attestation_stores_nothing(topic):
    with pytest.raises(ValidationError) as excinfo:
        make_post(topic=topic, attested=False)

    assert error_codes(excinfo) == {"attest": ["attest_required"]}
    assert excinfo.value.message_dict["attest"] == [
        "Confirm that your disclosure is complete and accurate."
    ]
    assert not Post.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "codes"),
    [
        (
            {"authorship": "ai_generated"},
            {"ai_model": ["ai_model_required"], "ai_maker": ["ai_maker_required"]},
        ),
        ({"stances": []}, {"stances": ["stances_required"]}),
        ({"tags": [f"t{n}" for n in range(11)]}, {"tags": ["tags_too_many"]}),
    ],
    ids=["disclosure", "stances", "tags"],
)
def test_post_create_breaking_a_rule_stores_nothing(topic, changes, codes):
    with pytest.raises(ValidationError) as excinfo:
        make_post(topic=topic, **changes)

    assert error_codes(excinfo) == codes
    assert not Post.objects.exists()
    assert not Tag.objects.exists()


@pytest.mark.django_db
def test_post_create_rejects_a_reply_to_a_hidden_post(topic):
    parent = make_post(topic=topic)
    services.posts_set_status(
        posts=Post.objects.all(),
        status=PostStatus.HIDDEN,
        actor=None,
        reason="Test reason.",
    )
    parent.refresh_from_db()

    with pytest.raises(ValidationError) as excinfo:
        make_post(topic=topic, parent=parent)

    assert error_codes(excinfo) == {"parent": ["parent_hidden"]}
    assert Post.objects.get() == parent


@pytest.mark.django_db
def test_moderator_edit_saves_under_the_same_rules(topic, moderator):
    post = make_post(topic=topic, tags=["old"])

    edit_post(
        post,
        editor=moderator,
        reason="Spam link removed.",
        body="Edited by a moderator.",
        stances=[stance(topic, "opposes-ban-is-justified")],
        tags=["new"],
    )

    post = Post.objects.get(pk=post.pk)
    assert post.body_html == "<p>Edited by a moderator.</p>\n"
    assert post.edited is not None
    assert list(post.stances.values_list("slug", flat=True)) == [
        "opposes-ban-is-justified"
    ]
    assert list(post.tags.names()) == ["new"]


@pytest.mark.django_db
def test_posts_set_status_hides_and_restores_only_what_changes(topic):
    first, second = make_post(topic=topic), make_post(topic=topic)

    assert (
        services.posts_set_status(
            posts=Post.objects.filter(pk=first.pk),
            status=PostStatus.HIDDEN,
            actor=None,
            reason="Test reason.",
        )
        == 1
    )
    assert (
        services.posts_set_status(
            posts=Post.objects.all(), status="hidden", actor=None, reason="Test reason."
        )
        == 1
    )
    assert not Post.objects.published().exists()

    assert (
        services.posts_set_status(
            posts=Post.objects.filter(pk=second.pk),
            status=PostStatus.PUBLISHED,
            actor=None,
            reason="Test reason.",
        )
        == 1
    )
    assert list(Post.objects.published()) == [second]


@pytest.mark.django_db
def test_topics_set_flag_locks_and_pins_logging_each_change(topic, moderator):
    other = make_topic()
    for flag in ("is_locked", "is_pinned"):
        count = services.topics_set_flag(
            topics=Topic.objects.filter(pk=topic.pk),
            flag=flag,
            value=True,
            actor=moderator,
            reason="Heated.",
        )
        assert count == 1

    topic.refresh_from_db()
    other.refresh_from_db()
    assert (topic.is_locked, topic.is_pinned) == (True, True)
    assert (other.is_locked, other.is_pinned) == (False, False)
    assert list(Topic.objects.all()) == [topic, other]  # Pinned first.
    log = ModerationAction.objects.order_by("id")
    assert [(a.action, a.topic, a.actor, a.reason) for a in log] == [
        ("lock", topic, moderator, "Heated."),
        ("pin", topic, moderator, "Heated."),
    ]


@pytest.mark.django_db
def test_topics_set_flag_logs_nothing_for_topics_already_so(topic, moderator):
    topics = Topic.objects.filter(pk=topic.pk)
    services.topics_set_flag(
        topics=topics, flag="is_locked", value=True, actor=moderator, reason="One."
    )

    count = services.topics_set_flag(
        topics=topics, flag="is_locked", value=True, actor=moderator, reason="Two."
    )

    assert count == 0
    assert list(ModerationAction.objects.values_list("reason", flat=True)) == ["One."]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "flag, value", [("title", True), ("is_locked", "yes"), ("slug", False)]
)
def test_topics_set_flag_refuses_anything_but_lock_and_pin(
    topic, moderator, flag, value
):
    title = topic.title

    with pytest.raises(KeyError):
        services.topics_set_flag(
            topics=Topic.objects.all(),
            flag=flag,
            value=value,
            actor=moderator,
            reason="Because.",
        )

    topic.refresh_from_db()
    assert (topic.title, topic.is_locked) == (title, False)
    assert not ModerationAction.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["", "   \n", "x" * 1001, "nul\x00byte"])
def test_moderation_services_refuse_a_missing_or_bad_reason(topic, moderator, reason):
    post = make_post(topic=topic)

    with pytest.raises(ValidationError) as hide:
        services.posts_set_status(
            posts=Post.objects.all(), status="hidden", actor=moderator, reason=reason
        )
    with pytest.raises(ValidationError) as lock:
        services.topics_set_flag(
            topics=Topic.objects.all(),
            flag="is_locked",
            value=True,
            actor=moderator,
            reason=reason,
        )

    for raised in (hide, lock):
        assert raised.value.error_dict["reason"][0].code in {
            "reason_required",
            "reason_invalid",
        }
    post.refresh_from_db()
    topic.refresh_from_db()
    assert (post.status, topic.is_locked) == ("published", False)
    assert not ModerationAction.objects.exists()


@pytest.mark.django_db
def test_user_make_moderator_gives_admin_access_with_the_groups_rights(user):
    services.user_make_moderator(user=user)

    user = type(user).objects.get(pk=user.pk)  # A fresh permission cache.
    assert user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == ["Moderators"]
    assert user.has_perm("forum.change_post")
    assert user.has_perm("forum.change_topic")
    assert not user.has_perm("auth.change_user")


@pytest.mark.django_db
def test_moderators_group_may_change_posts_and_topics_but_not_users():
    group = Group.objects.get(name="Moderators")
    codenames = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
    }

    assert {"forum.change_post", "forum.view_post", "forum.change_topic"} <= codenames
    assert not {c for c in codenames if c.startswith("auth.")}
    assert Permission.objects.filter(codename="change_user").exists()


@pytest.mark.django_db
def test_position_sync_stances_renames_stances_after_the_claim(topic):
    position = topic.positions.get(slug="ban-is-justified")
    before = set(position.stances.values_list("pk", flat=True))

    position.claim = "The ban is justified on national-security grounds"
    position.save()
    services.position_sync_stances(position=position)

    assert set(position.stances.values_list("pk", flat=True)) == before
    assert sorted(position.stances.values_list("name", flat=True)) == [
        "Opposes: The ban is justified on national-security grounds",
        "Supports: The ban is justified on national-security grounds",
    ]


# Stored counts --------------------------------------------------------------


def counted_from_rows(topic):
    """The counts the pages show, computed the slow way from the rows."""
    published = Post.objects.filter(topic=topic, status=PostStatus.PUBLISHED)
    positions = {}
    for position in topic.positions.all():
        positions[position.slug] = tuple(
            published.filter(
                stance_links__tag__position=position,
                stance_links__tag__polarity=polarity,
            ).count()
            for polarity in ("supports", "opposes")
        )
    return published.count(), positions


def stored(topic):
    topic.refresh_from_db()
    positions = {
        p.slug: (p.support_count, p.oppose_count) for p in topic.positions.all()
    }
    return topic.reply_count, positions


@pytest.mark.django_db
def test_stored_counts_follow_replies_hiding_restoring_and_edits(topic):
    endangers = stance(topic, "supports-ban-endangers-defenders")
    not_justified = stance(topic, "opposes-ban-is-justified")
    first = make_post(topic=topic, stances=[endangers])
    second = make_post(topic=topic, stances=[endangers, not_justified])
    make_post()  # another topic's reply leaves this topic's counts alone
    assert stored(topic) == (
        2,
        {"ban-endangers-defenders": (2, 0), "ban-is-justified": (0, 1)},
    )

    services.posts_set_status(
        posts=Post.objects.filter(pk=second.pk),
        status=PostStatus.HIDDEN,
        actor=None,
        reason="Test reason.",
    )
    assert stored(topic) == (
        1,
        {"ban-endangers-defenders": (1, 0), "ban-is-justified": (0, 0)},
    )

    services.posts_set_status(
        posts=Post.objects.filter(pk=second.pk),
        status=PostStatus.PUBLISHED,
        actor=None,
        reason="Test reason.",
    )
    edit_post(first, stances=[stance(topic, "opposes-ban-endangers-defenders")])
    assert stored(topic) == (
        2,
        {"ban-endangers-defenders": (1, 1), "ban-is-justified": (0, 1)},
    )
    assert stored(topic) == counted_from_rows(topic)


@pytest.mark.django_db
def test_every_write_marks_the_topic_changed(topic):
    """`updated` versions the anonymous page cache: each change must move it."""
    stamps = [Topic.objects.get(pk=topic.pk).updated]

    def moved():
        stamps.append(Topic.objects.get(pk=topic.pk).updated)
        return stamps[-1] > stamps[-2]

    post = make_post(topic=topic)
    assert moved()
    services.posts_set_status(
        posts=Post.objects.filter(pk=post.pk),
        status=PostStatus.HIDDEN,
        actor=None,
        reason="Test reason.",
    )
    assert moved()
    services.topics_set_flag(
        topics=Topic.objects.filter(pk=topic.pk),
        flag="is_locked",
        value=True,
        actor=None,
        reason="Test reason.",
    )
    assert moved()
    services.topics_touch(topic_ids=[topic.pk])
    assert moved()


@pytest.mark.django_db
def test_a_stance_given_twice_is_stored_and_counted_once(topic):
    endangers = stance(topic, "supports-ban-endangers-defenders")

    post = make_post(topic=topic, stances=[endangers, endangers])

    assert list(post.stances.all()) == [endangers]
    assert stored(topic)[1]["ban-endangers-defenders"] == (1, 0)


# Each service holds its rules without its form ------------------------------


def propose(topic, **changes):
    """services.position_propose with a valid proposal, with `changes`."""
    arguments = {
        "topic": topic,
        "author": make_user(),
        "claim": "Defenders should get licensed access",
        "disclosure": disclosure(),
        "attested": True,
    }
    return services.position_propose(**{**arguments, **changes})


@pytest.mark.django_db
def test_position_propose_stores_the_claim_with_its_disclosure(topic):
    party = topic.parties.get(slug="anthropic")

    proposal = propose(
        topic,
        claim="  Defenders should get licensed access ",
        disclosure=disclosure(
            conflict="declared",
            conflict_parties=[party],
            conflict_details="I hold shares.",
        ),
    )

    proposal = PositionProposal.objects.get(pk=proposal.pk)
    assert proposal.claim == "Defenders should get licensed access"
    assert (proposal.conflict, proposal.conflict_details) == (
        "declared",
        "I hold shares.",
    )
    assert list(proposal.conflict_parties.all()) == [party]
    assert proposal.attested_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, codes",
    [
        ({"attested": False}, {"attest": ["attest_required"]}),
        (
            {"disclosure": disclosure(affiliation=" ")},
            {"affiliation": ["affiliation_required"]},
        ),
        ({"claim": "The ban is justified"}, {"claim": ["claim_exists"]}),
        (
            {"quote": "Words the article never said."},
            {"quote": ["quote_not_in_article"]},
        ),
    ],
    ids=["unattested", "disclosure", "existing claim", "made-up quote"],
)
def test_position_propose_refuses_what_its_form_would_and_stores_nothing(
    topic, changes, codes
):
    with pytest.raises(ValidationError) as excinfo:
        propose(topic, **changes)

    assert error_codes(excinfo) == codes
    assert not PositionProposal.objects.exists()


@pytest.mark.django_db
def test_position_propose_refuses_a_locked_topic_and_a_suspended_author(
    topic, moderator
):
    author = make_user()
    services.user_suspend(
        user=author,
        until=timezone.now() + timedelta(days=1),
        reason="Spam.",
        actor=moderator,
    )
    with pytest.raises(ValidationError) as suspended:
        propose(topic, author=author)
    Topic.objects.filter(pk=topic.pk).update(is_locked=True)
    with pytest.raises(ValidationError) as locked:
        propose(topic)

    assert suspended.value.code == "suspended"
    assert locked.value.code == "topic_locked"
    assert not PositionProposal.objects.exists()


@pytest.mark.django_db
def test_post_edit_by_its_author_without_attestation_changes_nothing(topic):
    post = make_post(topic=topic, body="First words.")

    with pytest.raises(ValidationError) as excinfo:
        edit_post(post, body="Second words.", attested=False)

    assert error_codes(excinfo) == {"attest": ["attest_required"]}
    assert Post.objects.get(pk=post.pk).body == "First words."
    assert not post.revisions.exists()


@pytest.mark.django_db
def test_post_edit_by_a_moderator_without_a_reason_changes_nothing(topic, moderator):
    post = make_post(topic=topic, body="First words.")

    with pytest.raises(ValidationError) as excinfo:
        edit_post(post, editor=moderator, body="Tidied.", reason="  ")

    assert error_codes(excinfo) == {"reason": ["reason_required"]}
    assert Post.objects.get(pk=post.pk).body == "First words."
    assert not ModerationAction.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, codes",
    [
        ({"stances": []}, {"stances": ["stances_required"]}),
        ({"tags": [f"tag{n}" for n in range(11)]}, {"tags": ["tags_too_many"]}),
        (
            {"authorship": "ai_generated", "ai_maker": "Anthropic"},
            {"ai_model": ["ai_model_required"]},
        ),
    ],
    ids=["no stance", "too many tags", "ai without model"],
)
def test_post_edit_holds_the_creation_rules_without_its_form(topic, changes, codes):
    post = make_post(topic=topic, body="First words.")

    with pytest.raises(ValidationError) as excinfo:
        edit_post(post, body="Second words.", **changes)

    assert error_codes(excinfo) == codes
    assert Post.objects.get(pk=post.pk).body == "First words."
    assert not post.revisions.exists()


@pytest.mark.django_db
def test_post_edit_that_changes_nothing_is_refused(topic):
    post = make_post(topic=topic)

    with pytest.raises(ValidationError) as excinfo:
        edit_post(post)

    assert excinfo.value.code == "unchanged"
    assert not post.revisions.exists()
