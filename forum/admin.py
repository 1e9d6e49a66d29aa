"""Moderation in the Django admin; every change goes through the same rules as the site."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils.text import Truncator

from . import services
from .forms import PostAdminForm, check
from .models import Party, Position, Post, PostStatus, Stance, Topic


class StanceListFilter(admin.RelatedOnlyFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "stance"


class PartyFormSet(forms.BaseInlineFormSet):
    def clean(self):
        """Keep parties a declared conflict names: deleting one would strip it silently."""
        super().clean()
        for form in self.deleted_forms:
            party = form.instance
            if party.pk and (
                party.post_conflicts.exists() or party.topic_conflicts.exists()
            ):
                raise ValidationError(
                    "“%(party)s” is named in declared conflicts of interest, so it "
                    "cannot be deleted; rename it instead.",
                    code="party_in_use",
                    params={"party": party},
                )


class PartyInline(admin.TabularInline):
    model = Party
    formset = PartyFormSet
    extra = 0
    prepopulated_fields = {"slug": ["name"]}


class PositionInline(admin.StackedInline):
    model = Position
    extra = 0
    prepopulated_fields = {"slug": ["claim"]}
    fields = ["claim", "slug", "summary", "quote", "order"]


class TopicAdminForm(forms.ModelForm):
    """Holds the article's own disclosure to the rules every post meets."""

    source_url = forms.URLField(
        label="Source URL", required=False, assume_scheme="https"
    )

    class Meta:
        model = Topic
        fields = [
            "title", "slug", "lede", "is_locked", "is_pinned", "created", "body",
            "source_publication", "source_url", "source_date", "disclosure_statement",
            "authorship", "ai_model", "ai_maker", "affiliation", "paid", "paid_by",
            "conflict", "conflict_parties", "conflict_details",
        ]  # fmt: skip
        widgets = {"conflict_parties": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only this topic's parties; a new topic has none until it is saved once.
        self.fields["conflict_parties"].queryset = Party.objects.filter(
            topic_id=self.instance.pk
        )

    def clean(self):
        cleaned = super().clean()
        disclosure = {
            name: cleaned.get(name) or "" for name in services.DISCLOSURE_TEXT_FIELDS
        }
        check(
            self,
            services.validate_disclosure,
            topic=self.instance,
            conflict_parties=cleaned.get("conflict_parties") or [],
            **disclosure,
        )
        return cleaned


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
        ),  # fmt: skip
        (
            "The article's disclosure",
            {
                "fields": [
                    "disclosure_statement",
                    "authorship",
                    "ai_model",
                    "ai_maker",
                    "affiliation",
                    "paid",
                    "paid_by",
                    "conflict",
                    "conflict_parties",
                    "conflict_details",
                ]
            },
        ),  # fmt: skip
    ]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for position in form.instance.positions.all():
            services.position_sync_stances(position=position)
        services.topics_refresh(topic_ids=[form.instance.pk])

    def _set_flags(self, request, queryset, message, **flags):
        count = services.topics_set_flags(topics=queryset, **flags)
        self.message_user(request, f"{count} topic(s) {message}.", messages.SUCCESS)

    @admin.action(description="Lock selected topics (no new replies)")
    def lock_topics(self, request, queryset):
        self._set_flags(request, queryset, "locked", is_locked=True)

    @admin.action(description="Unlock selected topics")
    def unlock_topics(self, request, queryset):
        self._set_flags(request, queryset, "unlocked", is_locked=False)

    @admin.action(description="Pin selected topics to the top of the list")
    def pin_topics(self, request, queryset):
        self._set_flags(request, queryset, "pinned", is_pinned=True)

    @admin.action(description="Unpin selected topics")
    def unpin_topics(self, request, queryset):
        self._set_flags(request, queryset, "unpinned", is_pinned=False)


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    form = PostAdminForm
    list_display = [
        "id", "excerpt", "topic", "author", "stance_list", "authorship", "status",
        "created",
    ]  # fmt: skip
    list_filter = [
        "status",
        "authorship",
        "topic",
        ("stance_links__tag", StanceListFilter),
    ]
    list_select_related = ["topic", "author"]
    search_fields = ["body", "author__username"]
    readonly_fields = ["topic", "author", "parent", "body_html", "attested_at", "created",
                       "edited"]  # fmt: skip
    actions = ["hide_posts", "restore_posts"]
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

    def save_model(self, request, obj, form, change):
        if form.changed_data == ["status"]:
            # Hiding or restoring is not an edit of what the author wrote.
            posts = Post.objects.filter(pk=obj.pk)
            services.posts_set_status(posts=posts, status=obj.status)
            return
        services.post_update(
            post=obj,
            stances=form.cleaned_data["stances"],
            tags=form.cleaned_data["tags"],
            conflict_parties=form.cleaned_data["conflict_parties"],
        )

    def save_related(self, request, form, formsets, change):
        # post_update already wrote the stances, tags and parties.
        pass

    @admin.action(description="Hide selected posts")
    def hide_posts(self, request, queryset):
        count = services.posts_set_status(posts=queryset, status=PostStatus.HIDDEN)
        self.message_user(request, f"{count} post(s) hidden.", messages.SUCCESS)

    @admin.action(description="Restore selected posts")
    def restore_posts(self, request, queryset):
        count = services.posts_set_status(posts=queryset, status=PostStatus.PUBLISHED)
        self.message_user(request, f"{count} post(s) restored.", messages.SUCCESS)


@admin.register(Stance)
class StanceAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
