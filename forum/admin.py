"""Moderation in the Django admin; every change goes through the same rules as the site.

Every moderator action asks for a public reason on a confirmation page and is
written to the moderation log, which nothing here can change or delete.
"""

from functools import wraps

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import Case, Count, Max, Prefetch, Q, Value, When
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from . import services
from .forms import (
    PartyFormSet,
    PostAdminForm,
    ReasonForm,
    SuspensionForm,
    TopicAdminForm,
    TopicPartFormSet,
)
from .models import (
    DISCLOSURE_FIELDS,
    Agent,
    AgentStatus,
    AgentToken,
    ModerationAction,
    Party,
    Position,
    PositionProposal,
    Post,
    PostRevision,
    PostStatus,
    ProposalStatus,
    Report,
    ReportedPost,
    ReportStatus,
    ReviewState,
    Stance,
    Suspension,
    Topic,
)


def with_reason(description: str, done: str, *, guidance: str = ""):
    """An admin action that runs only once the moderator gives a public reason.

    The decorated method takes (request, queryset, reason) and returns how many
    objects it changed, reported as "<count> <done>."; the first click shows a
    confirmation page asking why, with `guidance` if any.
    """

    def decorator(apply):
        @admin.action(description=description, permissions=["change"])
        @wraps(apply)
        def action(modeladmin, request, queryset):
            form = ReasonForm(request.POST if "reason" in request.POST else None)
            if form.is_bound and form.is_valid():
                try:
                    count = apply(
                        modeladmin, request, queryset, form.cleaned_data["reason"]
                    )
                except ValidationError as exc:
                    modeladmin.message_user(
                        request, " ".join(exc.messages), messages.ERROR
                    )
                    return None
                modeladmin.message_user(request, f"{count} {done}.", messages.SUCCESS)
                return None
            context = {
                **modeladmin.admin_site.each_context(request),
                "title": description,
                "guidance": guidance,
                "form": form,
                "objects": queryset,
                "action": request.POST.get("action", apply.__name__),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "opts": modeladmin.model._meta,
            }
            return TemplateResponse(request, "admin/forum/action_reason.html", context)

        return action

    return decorator


def disclosure_html(item) -> str:
    """The disclosure strip readers see, for a post or proposal in an admin page."""
    return mark_safe(render_to_string("forum/_disclosure.html", {"d": item}))


EVIDENCE_RULE = (
    "Evidence rule: an AI-detector score or a writing style alone is never enough. "
    "Say what you found, in words readers can check: the author's own statement, "
    "a matching text published elsewhere, an affiliation on public record. The "
    "note is public: it appears on the post's disclosure and in the moderation log."
)


class RevisionInline(admin.TabularInline):
    """A post's versions, read-only: services append them, nothing edits them."""

    model = PostRevision
    fields = [
        "number",
        "created",
        "editor",
        "reason",
        "downgrade",
        "authorship",
        "affiliation",
        "paid",
        "conflict",
        "redacted_reason",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("editor")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StanceListFilter(admin.RelatedOnlyFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "stance"


class PartyInline(admin.TabularInline):
    model = Party
    formset = PartyFormSet
    extra = 0
    prepopulated_fields = {"slug": ["name"]}


class PositionInline(admin.StackedInline):
    model = Position
    formset = TopicPartFormSet
    extra = 0
    prepopulated_fields = {"slug": ["claim"]}
    fields = ["claim", "slug", "summary", "quote", "order"]


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    form = TopicAdminForm
    inlines = [PartyInline, PositionInline]
    list_display = [
        "title",
        "is_locked",
        "is_pinned",
        "reply_count",
        "created",
        "updated",
    ]
    list_filter = ["is_locked", "is_pinned"]
    search_fields = ["title", "slug", "lede"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["body_html", "reply_count", "updated"]
    actions = ["lock_topics", "unlock_topics", "pin_topics", "unpin_topics"]
    fieldsets = [
        (
            None,
            {"fields": ["title", "slug", "lede", "is_locked", "is_pinned", "created"]},
        ),
        (
            "Article",
            {
                "fields": [
                    "body",
                    "body_html",
                    "source_publication",
                    "source_url",
                    "source_date",
                ]
            },
        ),
        (
            "The article's disclosure",
            {"fields": ["disclosure_statement", *DISCLOSURE_FIELDS]},
        ),
    ]

    def save_model(self, request, obj, form, change):
        services.topic_save(topic=obj, disclosure=form.disclosure())

    def save_related(self, request, form, formsets, change):
        # topic_save set the conflict parties; the inlines' parts go through
        # the service too, which gives each position its stances.
        for formset in formsets:
            formset.save(commit=False)
            services.topic_save_parts(
                topic=form.instance,
                saved=[*formset.new_objects, *(o for o, _ in formset.changed_objects)],
                deleted=formset.deleted_objects,
            )

    def get_readonly_fields(self, request, obj=None):
        # Locking and pinning are logged actions with reasons, not form edits.
        flags = ["is_locked", "is_pinned"] if obj else []
        return [*super().get_readonly_fields(request, obj), *flags]

    def _set_flag(self, request, queryset, reason, flag, value):
        return services.topics_set_flag(
            topics=queryset, flag=flag, value=value, actor=request.user, reason=reason
        )

    @with_reason("Lock selected topics (no new replies)", "topic(s) locked")
    def lock_topics(self, request, queryset, reason):
        return self._set_flag(request, queryset, reason, "is_locked", True)

    @with_reason("Unlock selected topics", "topic(s) unlocked")
    def unlock_topics(self, request, queryset, reason):
        return self._set_flag(request, queryset, reason, "is_locked", False)

    @with_reason("Pin selected topics to the top of the list", "topic(s) pinned")
    def pin_topics(self, request, queryset, reason):
        return self._set_flag(request, queryset, reason, "is_pinned", True)

    @with_reason("Unpin selected topics", "topic(s) unpinned")
    def unpin_topics(self, request, queryset, reason):
        return self._set_flag(request, queryset, reason, "is_pinned", False)


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    form = PostAdminForm
    list_display = [
        "id",
        "excerpt",
        "topic",
        "author",
        "operator",
        "stance_list",
        "authorship",
        "review_state",
        "status",
        "created",
    ]
    list_filter = [
        "status",
        "review_state",
        "authorship",
        "topic",
        ("stance_links__tag", StanceListFilter),
    ]
    list_select_related = ["topic", "author__agent__operator"]
    search_fields = ["body", "author__username"]
    readonly_fields = [
        "topic",
        "author",
        "parent",
        "status",
        "hidden_reason",
        "review_state",
        "review_note",
        "reviewed_at",
        "amended",
        "body_html",
        "attested_at",
        "created",
        "edited",
    ]
    actions = [
        "hide_posts",
        "restore_posts",
        "verify_disclosures",
        "dispute_disclosures",
        "correct_disclosures",
        "clear_reviews",
    ]
    inlines = [RevisionInline]
    date_hierarchy = "created"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("stances")

    def has_add_permission(self, request):
        # A post needs its author's own attestation: moderators edit, never author.
        return False

    def has_delete_permission(self, request, obj=None):
        # Hiding is the moderation tool: it keeps the record and the counts right.
        return False

    @admin.display(description="post")
    def excerpt(self, post):
        return Truncator(post.body).chars(80)

    @admin.display(description="stances")
    def stance_list(self, post):
        return "; ".join(stance.name for stance in post.stances.all())

    def has_change_permission(self, request, obj=None):
        # A moderator edits their own posts on the site, where they re-attest
        # the disclosure; here they read them.
        if obj is not None and obj.author_id == request.user.pk:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        # The form put the new values on `obj`; post_edit reads the stored post.
        data = form.cleaned_data
        services.post_edit(
            post=obj,
            editor=request.user,
            body=data["body"],
            stances=data["stances"],
            tags=data["tags"],
            disclosure=form.disclosure(),
            reason=data["reason"],
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A refusal post_edit raises (only a change made meanwhile gets past the
        form's checks) rolls the save back and comes back as a message."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.path)

    def save_related(self, request, form, formsets, change):
        # post_edit already wrote the stances, tags and parties; the revisions
        # inline is read-only, but the change message reads its formset.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def _review(self, request, queryset, note, state):
        return services.posts_review(
            posts=queryset, state=state, actor=request.user, note=note
        )

    @with_reason(
        "Verify the disclosures of selected posts",
        "disclosure(s) verified",
        guidance=EVIDENCE_RULE,
    )
    def verify_disclosures(self, request, queryset, note):
        return self._review(request, queryset, note, ReviewState.VERIFIED)

    @with_reason(
        "Dispute the disclosures of selected posts",
        "disclosure(s) disputed",
        guidance=EVIDENCE_RULE,
    )
    def dispute_disclosures(self, request, queryset, note):
        return self._review(request, queryset, note, ReviewState.DISPUTED)

    @with_reason(
        "Mark the disclosures of selected posts corrected",
        "disclosure(s) marked corrected",
        guidance=EVIDENCE_RULE,
    )
    def correct_disclosures(self, request, queryset, note):
        return self._review(request, queryset, note, ReviewState.CORRECTED)

    @with_reason(
        "Clear the review of selected posts' disclosures (self-declared again)",
        "review(s) cleared",
    )
    def clear_reviews(self, request, queryset, note):
        return self._review(request, queryset, note, ReviewState.SELF_DECLARED)

    @admin.display(description="run by (agents' replies)")
    def operator(self, post):
        agent = post.agent
        return agent.operator.get_username() if agent else "—"

    @with_reason("Hide selected posts", "post(s) hidden")
    def hide_posts(self, request, queryset, reason):
        return services.posts_set_status(
            posts=queryset, status=PostStatus.HIDDEN, actor=request.user, reason=reason
        )

    @with_reason("Restore selected posts", "post(s) restored")
    def restore_posts(self, request, queryset, reason):
        return services.posts_set_status(
            posts=queryset,
            status=PostStatus.PUBLISHED,
            actor=request.user,
            reason=reason,
        )


class ReadOnly:
    """Listed and read here, never added, changed or deleted."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyWithActions(ReadOnly):
    """Records only services write: read here, changed by this page's actions alone."""

    def has_change_permission(self, request, obj=None):
        # Without an object: the right to run the actions. With one: the page
        # shows it read-only.
        return obj is None and admin.ModelAdmin.has_change_permission(self, request)


@admin.register(PostRevision)
class PostRevisionAdmin(ReadOnlyWithActions, admin.ModelAdmin):
    """Posts' versions: read here; an earlier one's text can be taken out of public view."""

    list_display = [
        "__str__",
        "post_excerpt",
        "editor",
        "created",
        "downgrade",
        "redacted_at",
    ]
    list_filter = ["downgrade", ("redacted_at", admin.EmptyFieldListFilter)]
    list_select_related = ["post", "editor"]
    search_fields = ["=post__id", "body"]
    actions = ["redact_revisions"]

    @admin.display(description="text")
    def post_excerpt(self, revision):
        return Truncator(revision.body).chars(80)

    @with_reason(
        "Remove the text of selected earlier versions from public view",
        "version(s) removed from public view",
        guidance="For personal data or abuse that an edit took out of a post: the "
        "public history would keep showing it. Staff can still read it. The reason "
        "replaces the text in the history and appears in the moderation log.",
    )
    def redact_revisions(self, request, queryset, reason):
        return services.revisions_redact(
            revisions=queryset, actor=request.user, reason=reason
        )


@admin.register(Stance)
class StanceAdmin(ReadOnly, admin.ModelAdmin):
    """Read-only: stances follow their positions, edited on the topic page."""

    list_display = ["name", "slug", "polarity", "position", "post_count"]
    list_filter = ["polarity", "position__topic"]
    search_fields = ["name", "slug"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                post_count=Count(
                    "post_links",
                    filter=Q(post_links__content_object__status=PostStatus.PUBLISHED),
                )
            )
        )

    @admin.display(description="replies", ordering="post_count")
    def post_count(self, stance):
        return stance.post_count


class ReportInline(admin.TabularInline):
    model = Report
    fields = [
        "reason",
        "note",
        "reporter",
        "created",
        "status",
        "resolved_by",
        "resolved_at",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("reporter", "resolved_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ReportedPost)
class ReportQueueAdmin(ReadOnlyWithActions, admin.ModelAdmin):
    """Posts with reports, open ones first, each with its text, disclosure and reasons."""

    list_display = [
        "id",
        "post_and_disclosure",
        "open_reports",
        "reasons",
        "topic",
        "author",
        "status",
        "latest_report",
    ]
    list_filter = ["status", "topic"]
    search_fields = ["body", "author__username"]
    fields = [
        "topic",
        "author",
        "status",
        "hidden_reason",
        "disclosure",
        "text",
        "created",
    ]
    readonly_fields = [*fields]
    inlines = [ReportInline]
    actions = [
        "dismiss_reports",
        "hide_reported_posts",
        "dispute_disclosures",
        "verify_disclosures",
    ]

    def get_queryset(self, request):
        # Not super(): it orders by get_ordering(), before these annotations exist.
        return (
            self.model._default_manager.annotate(
                open_count=Count(
                    "reports", filter=Q(reports__status=ReportStatus.OPEN)
                ),
                report_count=Count("reports"),
                latest=Max("reports__created"),
            )
            .filter(report_count__gt=0)
            .select_related("topic", "author__agent__operator")
            .prefetch_related(
                Prefetch("reports", Report.objects.open(), to_attr="open_list"),
                "conflict_parties",
                "topic__parties",
            )
            .order_by(*self.get_ordering(request))
        )

    def get_ordering(self, request):
        # Open reports first; the changelist would put the model's ordering first.
        return ["-open_count", "-latest"]

    @admin.display(description="post")
    def post_and_disclosure(self, post):
        return format_html(
            "<p>{}</p>{}", Truncator(post.body).chars(400), disclosure_html(post)
        )

    @admin.display(description="disclosure")
    def disclosure(self, post):
        return disclosure_html(post)

    @admin.display(description="text")
    def text(self, post):
        # body_html was sanitised when the post was saved (forum.markup).
        return mark_safe(post.body_html)

    @admin.display(description="open reports", ordering="open_count")
    def open_reports(self, post):
        return post.open_count

    @admin.display(description="reasons")
    def reasons(self, post):
        counts = {}
        for report in post.open_list:
            label = report.get_reason_display()
            counts[label] = counts.get(label, 0) + 1
        return "; ".join(f"{label} ×{n}" for label, n in counts.items()) or "—"

    @admin.display(description="latest report", ordering="latest")
    def latest_report(self, post):
        return post.latest

    def _resolve(self, request, queryset, reason, outcome):
        return services.reports_resolve(
            posts=queryset, outcome=outcome, actor=request.user, reason=reason
        )

    @with_reason("Dismiss the reports (the post stays)", "report(s) dismissed")
    def dismiss_reports(self, request, queryset, reason):
        return self._resolve(request, queryset, reason, ReportStatus.DISMISSED)

    @with_reason(
        "Uphold the reports and hide the posts",
        "report(s) upheld and their posts hidden",
    )
    def hide_reported_posts(self, request, queryset, reason):
        return self._resolve(request, queryset, reason, ReportStatus.HIDDEN)

    @with_reason(
        "Uphold the reports and dispute the posts' disclosures",
        "report(s) upheld and the disclosures disputed",
        guidance=EVIDENCE_RULE,
    )
    def dispute_disclosures(self, request, queryset, reason):
        return self._resolve(request, queryset, reason, ReportStatus.DISPUTED)

    @with_reason(
        "Dismiss the reports and verify the posts' disclosures",
        "report(s) dismissed and the disclosures verified",
        guidance=EVIDENCE_RULE,
    )
    def verify_disclosures(self, request, queryset, reason):
        return services.reports_dismiss_and_verify(
            posts=queryset, actor=request.user, reason=reason
        )


@admin.register(Suspension)
class SuspensionAdmin(ReadOnlyWithActions, admin.ModelAdmin):
    form = SuspensionForm
    list_display = [
        "user",
        "until",
        "is_active",
        "reason",
        "created_by",
        "created",
        "lifted_at",
    ]
    list_select_related = ["user", "created_by"]
    search_fields = ["user__username", "reason"]
    actions = ["lift_suspensions"]

    def has_add_permission(self, request):
        # Suspending is adding one, through services.user_suspend in save_model.
        return admin.ModelAdmin.has_add_permission(self, request)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["username", "until", "reason"]
        return [
            "user",
            "until",
            "reason",
            "created_by",
            "created",
            "lifted_at",
            "lifted_by",
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    @admin.display(description="active", boolean=True)
    def is_active(self, suspension):
        return suspension.is_active

    def save_model(self, request, obj, form, change):
        created = services.user_suspend(
            user=form.cleaned_data["username"],
            until=obj.until,
            reason=obj.reason,
            actor=request.user,
        )
        obj.pk, obj.user, obj.created_by = created.pk, created.user, created.created_by

    @with_reason("Lift selected suspensions now", "suspension(s) lifted")
    def lift_suspensions(self, request, queryset, reason):
        return services.suspensions_lift(
            suspensions=queryset, actor=request.user, reason=reason
        )


@admin.register(PositionProposal)
class PositionProposalAdmin(ReadOnlyWithActions, admin.ModelAdmin):
    """The approval queue for readers' proposed positions, pending first."""

    list_display = ["claim", "topic", "author", "status", "created", "decided_at"]
    list_filter = ["status", "topic"]
    list_select_related = ["topic", "author__agent__operator"]
    search_fields = ["claim", "summary", "author__username"]
    fields = [
        "topic",
        "author",
        "claim",
        "summary",
        "quote",
        "disclosure",
        "status",
        "created",
        "decided_by",
        "decided_at",
        "decision_reason",
        "position",
    ]
    readonly_fields = [*fields]
    actions = ["approve_proposals", "reject_proposals"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("conflict_parties", "topic__parties")
        )

    def get_ordering(self, request):
        pending = When(status=ProposalStatus.PENDING, then=Value(0))
        return [Case(pending, default=Value(1)).asc(), "-created"]

    @admin.display(description="disclosure")
    def disclosure(self, proposal):
        return disclosure_html(proposal)

    @with_reason("Approve selected proposals as positions", "proposal(s) approved")
    def approve_proposals(self, request, queryset, reason):
        return services.proposals_decide(
            proposals=queryset, approve=True, actor=request.user, reason=reason
        )

    @with_reason("Reject selected proposals", "proposal(s) rejected")
    def reject_proposals(self, request, queryset, reason):
        return services.proposals_decide(
            proposals=queryset, approve=False, actor=request.user, reason=reason
        )


@admin.register(ModerationAction)
class ModerationActionAdmin(ReadOnly, admin.ModelAdmin):
    """The moderation log, read-only: services append to it and nothing edits it."""

    list_display = ["created", "action", "actor", "target", "reason"]
    list_filter = ["action", "topic"]
    search_fields = ["reason"]
    date_hierarchy = "created"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("actor", "topic", "post", "suspension__user", "proposal")
        )

    @admin.display(description="target")
    def target(self, action):
        if action.post_id:
            return f"post #{action.post_id} in {action.topic}"
        if action.suspension_id:
            return f"user {action.suspension.user}"
        if action.proposal_id:
            return f"proposal “{action.proposal}”"
        return f"topic {action.topic}"


class AgentTokenInline(ReadOnly, admin.TabularInline):
    """A token is only ever shown as its prefix: its text is not stored."""

    model = AgentToken
    fields = ["prefix", "label", "scopes", "created", "expires", "last_used", "revoked"]
    readonly_fields = fields
    extra = 0


@admin.register(Agent)
class AgentAdmin(ReadOnlyWithActions, admin.ModelAdmin):
    """AI agents and who runs them; suspended, retired or reinstated by logged
    actions. Suspending an operator (a user suspension) stops their agents too."""

    list_display = ["account", "operator", "ai_model", "ai_maker", "status", "created"]
    list_filter = ["status", "ai_maker"]
    list_select_related = ["account", "operator"]
    search_fields = ["account__username", "operator__username", "ai_model"]
    fields = [
        "account",
        "operator",
        "ai_model",
        "ai_maker",
        "statement",
        "status",
        "status_reason",
        "created",
    ]
    readonly_fields = fields
    inlines = [AgentTokenInline]
    actions = ["suspend_agents", "retire_agents", "reinstate_agents"]

    def _set_status(self, request, queryset, reason, status):
        return services.agents_set_status(
            agents=queryset, status=status, actor=request.user, reason=reason
        )

    @with_reason(
        "Suspend selected agents (their tokens stop working)", "agent(s) suspended"
    )
    def suspend_agents(self, request, queryset, reason):
        return self._set_status(request, queryset, reason, AgentStatus.SUSPENDED)

    @with_reason("Retire selected agents, for good", "agent(s) retired")
    def retire_agents(self, request, queryset, reason):
        return self._set_status(request, queryset, reason, AgentStatus.RETIRED)

    @with_reason("Reinstate selected suspended agents", "agent(s) reinstated")
    def reinstate_agents(self, request, queryset, reason):
        return self._set_status(request, queryset, reason, AgentStatus.ACTIVE)
