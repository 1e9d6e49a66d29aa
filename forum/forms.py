"""Forms validate and explain; they never write. Services do the writing."""

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import ValidationError
from django.forms.models import construct_instance
from taggit.models import Tag
from taggit.utils import edit_string_for_tags, parse_tags

from .models import Authorship, Party, Post, Stance, Topic
from .services import (
    DISCLOSURE_TEXT_FIELDS,
    validate_disclosure,
    validate_keywords,
    validate_parent,
    validate_stances,
)


def check(form: forms.BaseForm, validator, **kwargs) -> None:
    """Run a services validator, putting each error by its field unless one is there."""
    try:
        validator(**kwargs)
    except ValidationError as exc:
        for name, errors in exc.error_dict.items():
            if name not in form.errors:
                form.add_error(name, errors)


def keywords_as_spelled(names: list[str]) -> list[str]:
    """`names` without case repeats, each spelled like the keyword tag it already is.

    taggit matches case-insensitively in SQL, where PostgreSQL folds case by its
    locale and SQLite folds ASCII only: "École" and "école" would be one tag on the
    first, two on the second. Matched here in Python, they are one tag on both
    (case variants share taggit's lowercase slug; the oldest spelling wins).
    """
    if not names:
        return []
    slugs = {Tag().slugify(name) for name in names}
    known = {
        tag.name.lower(): tag.name
        for tag in Tag.objects.filter(slug__in=slugs).order_by("-pk")
    }
    spelled = {}
    for name in names:
        spelled.setdefault(name.lower(), known.get(name.lower(), name))
    return list(spelled.values())


class PostForm(forms.ModelForm):
    """A reply: what it says, where it stands, and its author's disclosure."""

    stances = forms.ModelMultipleChoiceField(
        queryset=Stance.objects.none(),
        to_field_name="slug",
        widget=forms.CheckboxSelectMultiple,
        help_text="Where does this reply stand? Choose at least one.",
        error_messages={
            "required": "Choose at least one stance: say where this reply stands."
        },
    )
    tags = forms.CharField(
        label="Keyword tags",
        required=False,
        max_length=600,
        help_text="Optional, comma-separated, e.g. “open source, exploits”.",
    )
    parent = forms.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput
    )
    attest = forms.BooleanField(
        label="This disclosure is complete and accurate.",
        error_messages={
            "required": "Confirm that your disclosure is complete and accurate."
        },
    )

    class Meta:
        model = Post
        fields = [
            "body", "authorship", "ai_model", "ai_maker", "affiliation", "paid",
            "paid_by", "conflict", "conflict_parties", "conflict_details",
        ]  # fmt: skip
        widgets = {
            "body": forms.Textarea(attrs={"rows": 8}),
            "authorship": forms.RadioSelect,
            "paid": forms.RadioSelect,
            "conflict": forms.RadioSelect,
            "conflict_parties": forms.CheckboxSelectMultiple,
            "conflict_details": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"body": "Your reply", "authorship": "How it was written"}
        help_texts = {
            "body": "Markdown: **bold**, *italic*, [links](https://example.org), > quotes.",
            "authorship": "AI-polished: it only corrected language or translated. "
            "AI-assisted: it drafted or suggested parts, and you edited it all. "
            "AI-generated: an AI model wrote it; you reviewed it and answer for it.",
            "ai_model": "Which AI model, e.g. “Claude” or “GPT-4o”.",
            "ai_maker": "Who made that model, e.g. “Anthropic” or “OpenAI”.",
            "affiliation": "Your relevant employer or organisation, or “none”.",
            "paid_by": "Who pays you, or will, to post on this.",
            "conflict_parties": "The parties of this debate your conflict involves.",
            "conflict_details": "Your tie to them, in a sentence or two.",
        }
        error_messages = {
            "body": {"required": "Write your reply before posting."},
            "authorship": {"required": "Say who wrote this post."},
            "affiliation": {
                "required": "Give your relevant employer or organisation, or write “none”."
            },
            "paid": {"required": "Say whether you are paid to post on this."},
            "conflict": {"required": "Say whether you have a conflict of interest."},
        }

    def __init__(self, *args, topic: Topic | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.topic = topic or self.instance.topic
        self.instance.topic = self.topic
        self.fields["stances"].queryset = Stance.objects.filter(
            position__topic=self.topic
        ).select_related("position")
        self.fields["conflict_parties"].queryset = Party.objects.filter(
            topic=self.topic
        )
        self.fields["conflict_parties"].to_field_name = "slug"
        for name in ("authorship", "paid", "conflict"):
            # Radio buttons with no blank option: nothing is pre-chosen for the author.
            self.fields[name].choices = self.fields[name].choices[1:]
        if self.instance.pk:
            # model_to_dict gave Tag objects; the field edits them as text.
            self.initial["tags"] = edit_string_for_tags(self.instance.tags.all())

    def clean_tags(self) -> list[str]:
        return keywords_as_spelled(parse_tags(self.cleaned_data["tags"]))

    def clean_parent(self) -> Post | None:
        parent_id = self.cleaned_data["parent"]
        if parent_id is None:
            return None
        parent = Post.objects.filter(pk=parent_id).first()
        if parent is None:
            raise ValidationError("That post does not exist.", code="parent_missing")
        return parent

    def clean(self):
        cleaned = super().clean()
        disclosure = {name: cleaned.get(name) or "" for name in DISCLOSURE_TEXT_FIELDS}
        check(
            self,
            validate_disclosure,
            topic=self.topic,
            conflict_parties=cleaned.get("conflict_parties") or [],
            **disclosure,
        )
        if "stances" in cleaned:
            check(self, validate_stances, topic=self.topic, stances=cleaned["stances"])
        if "tags" in cleaned:
            check(self, validate_keywords, names=cleaned["tags"])
        if cleaned.get("parent"):
            check(
                self,
                validate_parent,
                topic=self.topic,
                parent=cleaned["parent"],
                post=self.instance,
            )
        return cleaned

    def _post_clean(self):
        # Only copy the values onto the instance: the services run full_clean() on
        # the real object, and the model's messages would repeat clean()'s.
        self.instance = construct_instance(self, self.instance, self._meta.fields)

    def disclosure(self) -> dict:
        """The cleaned disclosure, as keyword arguments for the services."""
        data = {name: self.cleaned_data[name] for name in DISCLOSURE_TEXT_FIELDS}
        data["conflict_parties"] = list(self.cleaned_data["conflict_parties"])
        return data


class PostAdminForm(PostForm):
    """The admin's edit form: the same rules, plus status; no re-attestation."""

    attest = None
    parent = None

    class Meta(PostForm.Meta):
        fields = [*PostForm.Meta.fields, "status"]
        widgets = {**PostForm.Meta.widgets, "status": forms.RadioSelect}


class ThreadFilterForm(forms.Form):
    """Reader filters from the query string; unknown values get a 400 with a message."""

    stance = forms.ModelChoiceField(
        queryset=Stance.objects.none(),
        to_field_name="slug",
        required=False,
        error_messages={"invalid_choice": "There is no such stance in this topic."},
    )
    authorship = forms.ChoiceField(
        choices=[("", "Anyone"), *Authorship.choices],
        required=False,
        error_messages={"invalid_choice": "Choose a kind of authorship from the list."},
    )

    def __init__(self, *args, topic: Topic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stance"].queryset = Stance.objects.filter(position__topic=topic)

    def is_filtering(self) -> bool:
        return self.is_valid() and any(self.cleaned_data.values())

    def filter(self, posts):
        if stance := self.cleaned_data.get("stance"):
            posts = posts.with_stance(stance)
        if authorship := self.cleaned_data.get("authorship"):
            posts = posts.with_authorship(authorship)
        return posts


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ["username"]
