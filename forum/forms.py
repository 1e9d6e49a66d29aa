"""Forms validate and explain; they never write. Services do the writing."""

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.forms.models import construct_instance
from django.http import QueryDict
from taggit.utils import edit_string_for_tags, parse_tags

from . import limits, search
from .models import (
    AGENT_NAME_MAX_LENGTH,
    ATTESTATION,
    DISCLOSURE_FIELDS,
    PERSON_AUTHORSHIPS,
    REASON_MAX_LENGTH,
    STATEMENT_MAX_LENGTH,
    Authorship,
    DisclosureDefaults,
    MailCategory,
    MailSettings,
    Paid,
    Party,
    PositionProposal,
    Post,
    Report,
    Scope,
    Stance,
    Suspension,
    Ties,
    Topic,
    WatchLevel,
    Written,
)
from .search import QUERY_MAX_LENGTH
from .services import (
    EDIT_UNCHANGED,
    DisclosureAnswers,
    keywords_as_spelled,
    validate_body,
    validate_defaults,
    validate_disclosure,
    validate_keywords,
    validate_parent,
    validate_party_removal,
    validate_passage,
    validate_proposal,
    validate_report,
    validate_stances,
    validate_suspension,
    validate_topic_part,
    validate_username,
)
from .services.agents import validate_agent_fields


def check(form: forms.BaseForm, validator, **kwargs) -> None:
    """Run a services validator, putting each error by its field unless one is there."""
    try:
        validator(**kwargs)
    except ValidationError as exc:
        for name, errors in exc.error_dict.items():
            if name not in form.errors:
                form.add_error(name, errors)


class InputForm(forms.ModelForm):
    """A ModelForm that takes its fields from the model and never builds a row.

    The service that writes builds the real object and runs full_clean() on
    it, inside its transaction. Here Django would also check the model's
    constraints on a half-built instance, one query each, and repeat in the
    model's words what clean() already said; this copies the values onto the
    instance (the admin reads them back) and stops there.
    """

    def _post_clean(self):
        self.instance = construct_instance(self, self.instance, self._meta.fields)


class DisclosureChecks:
    """For ModelForms with the disclosure's fields and a `topic`: its rules, and its answers."""

    def clean(self):
        cleaned = super().clean()
        answers = DisclosureAnswers.from_mapping(cleaned)
        check(
            self,
            validate_disclosure,
            topic=self.topic,
            disclosure=answers,
            author=self.disclosure_author(),
        )
        return cleaned

    def disclosure_author(self):
        """Whose account the disclosure is judged against: a reply's own
        author once it has one (an edit), so an agent's reply keeps the
        disclosure its account fixes; none for a person's new text."""
        return getattr(self.instance, "author", None) if self.instance.pk else None

    def disclosure(self) -> DisclosureAnswers:
        """The cleaned answers, as the services take them."""
        return DisclosureAnswers.from_mapping(self.cleaned_data)


class DisclosureForm(DisclosureChecks, InputForm):
    """The disclosure every contribution carries (replies, proposed positions), attested."""

    attest = forms.BooleanField(
        label="This disclosure is complete and accurate.",
        help_text="You answer for it. Moderators may verify it or mark it disputed, "
        "in public.",
        error_messages={
            "required": "Confirm that your disclosure is complete and accurate."
        },
    )

    class Meta:
        widgets = {
            "authorship": forms.RadioSelect,
            "paid": forms.RadioSelect,
            "conflict": forms.RadioSelect,
            "conflict_parties": forms.CheckboxSelectMultiple,
            "conflict_details": forms.Textarea(attrs={"rows": 2}),
        }
        labels = dict(DISCLOSURE_FIELDS)
        help_texts = {
            "authorship": "AI-polished: it only corrected language or translated. "
            "AI-assisted: it drafted or suggested parts, and you edited it all. "
            "AI-generated: an AI model wrote it; you reviewed it and answer for it.",
            "ai_model": "Which AI model, e.g. “Claude” or “GPT-4o”.",
            "ai_maker": "Who made that model, e.g. “Anthropic” or “OpenAI”.",
            "affiliation": "Your relevant employer or organisation, or “none”.",
            "paid": "Is anyone paying you, or going to pay you, for writing this?",
            "paid_by": "Who pays you, or will, to post on this. If it is a party of "
            "this debate, tick it under your conflict too.",
            "conflict": "A tie readers should weigh: your job, money, family or a "
            "stake in how this turns out.",
            "conflict_parties": "Tick each party of this debate your tie involves: "
            "the stance map counts your reply as tied to a party.",
            "conflict_details": "Your tie to them, in a sentence or two.",
        }
        error_messages = {
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
        self.fields["conflict_parties"].queryset = Party.objects.filter(
            topic=self.topic
        )
        self.fields["conflict_parties"].to_field_name = "slug"
        for name in ("authorship", "paid", "conflict"):
            # Radio buttons with no blank option: nothing is pre-chosen for the author.
            self.fields[name].choices = self.fields[name].choices[1:]
        if self.instance.authorship != Authorship.AI_AGENT:
            # An agent's authorship comes with its account, never from a form.
            self.fields["authorship"].choices = PERSON_AUTHORSHIPS


class PostForm(DisclosureForm):
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
    # Set by "Quote" on a paragraph of the article: the reply answers that passage.
    passage = forms.IntegerField(
        required=False, min_value=1, max_value=32767, widget=forms.HiddenInput
    )

    class Meta(DisclosureForm.Meta):
        model = Post
        fields = ["body", *DISCLOSURE_FIELDS]
        widgets = {
            **DisclosureForm.Meta.widgets,
            "body": forms.Textarea(attrs={"rows": 8}),
        }
        labels = {**DisclosureForm.Meta.labels, "body": "Your reply"}
        help_texts = {
            **DisclosureForm.Meta.help_texts,
            "body": "Markdown: **bold**, *italic*, [links](https://example.org), > "
            "quotes. Preview shows it as readers will see it.",
        }
        error_messages = {
            **DisclosureForm.Meta.error_messages,
            "body": {"required": "Write your reply before posting."},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stances"].queryset = Stance.objects.filter(
            position__topic=self.topic
        ).select_related("position")
        if self.instance.pk:
            # model_to_dict gave Tag objects; the field edits them as text.
            self.initial["tags"] = edit_string_for_tags(self.instance.tags.all())

    @classmethod
    def as_typed(cls, data, topic: Topic) -> dict:
        """What was typed into the form, as initial values: a preview shows it
        back without judging it (no errors until the reader posts)."""
        form = cls(data, topic=topic)
        return {
            name: field.widget.value_from_datadict(data, {}, form.add_prefix(name))
            for name, field in form.fields.items()
        }

    def clean_tags(self) -> list[str]:
        # Normalised as the service will store them, so the rules judge those.
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
        if "body" in cleaned:
            check(self, validate_body, body=cleaned["body"])
        if "stances" in cleaned:
            check(self, validate_stances, topic=self.topic, stances=cleaned["stances"])
        if "tags" in cleaned:
            check(self, validate_keywords, names=cleaned["tags"])
        if cleaned.get("passage"):
            check(self, validate_passage, topic=self.topic, passage=cleaned["passage"])
        if cleaned.get("parent"):
            check(
                self,
                validate_parent,
                topic=self.topic,
                parent=cleaned["parent"],
                post=self.instance,
            )
        return cleaned


class AgentReplyForm(PostForm):
    """A reply an agent posts through the write API: the reply form itself,
    with its rules, and the authorship, model and maker its account fixes."""

    def __init__(self, *args, agent, **kwargs):
        super().__init__(*args, **kwargs)
        self.agent = agent
        self.fields["authorship"].choices = [
            (Authorship.AI_AGENT, Authorship.AI_AGENT.label)
        ]

    def disclosure_author(self):
        return self.agent.account


class ProposalForm(DisclosureForm):
    """A proposed position: the claim, why it matters, and who proposes it."""

    class Meta(DisclosureForm.Meta):
        model = PositionProposal
        fields = ["claim", "summary", "quote", *DISCLOSURE_FIELDS]
        widgets = {
            **DisclosureForm.Meta.widgets,
            "summary": forms.Textarea(attrs={"rows": 3}),
            "quote": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {
            **DisclosureForm.Meta.labels,
            "claim": "The claim",
            "quote": "Quote from the article (optional)",
        }
        help_texts = {
            **DisclosureForm.Meta.help_texts,
            "claim": "One sentence people can support or oppose, e.g. “The ban "
            "should exempt defenders”.",
            "summary": "Optional: what the claim means and why the debate needs it.",
            "quote": "The article's words it answers, copied exactly.",
        }
        error_messages = {
            **DisclosureForm.Meta.error_messages,
            "claim": {"required": "State the claim people would take sides on."},
        }

    def clean(self):
        cleaned = super().clean()
        if "claim" in cleaned and "quote" in cleaned:
            check(
                self,
                validate_proposal,
                topic=self.topic,
                claim=cleaned["claim"],
                quote=cleaned["quote"],
                summary=cleaned.get("summary") or "",
            )
        return cleaned


class ReportForm(InputForm):
    class Meta:
        model = Report
        fields = ["reason", "note"]
        widgets = {
            "reason": forms.RadioSelect,
            "note": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"reason": "What is wrong with this post?", "note": "Note"}
        help_texts = {
            "note": "Optional, unless you chose “something else”. Only moderators "
            "see it.",
        }
        error_messages = {
            "reason": {
                "required": "Choose what is wrong with the post.",
                "invalid_choice": "Choose a reason from the list.",
            }
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = self.fields["reason"].choices[1:]

    def clean(self):
        cleaned = super().clean()
        if "reason" in cleaned:
            check(
                self,
                validate_report,
                reason=cleaned["reason"],
                note=cleaned.get("note") or "",
            )
        return cleaned


class ModerationLogFilterForm(forms.Form):
    topic = forms.ModelChoiceField(
        queryset=Topic.objects.all(),
        to_field_name="slug",
        required=False,
        empty_label="All topics",
        error_messages={"invalid_choice": "There is no topic with that address."},
    )


class PostEditForm(PostForm):
    """An edit of a published reply: its author re-attests, a moderator says why.

    The reply it answers stays as it was.
    """

    reason = forms.CharField(
        label="Why are you editing?",
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown with this version in the post’s public history. Needed "
        "when you remove something from your disclosure.",
    )
    parent = None
    passage = None

    def __init__(self, *args, by_moderator: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.by_moderator = by_moderator
        self.initial["stances"] = [s.slug for s in self.instance.stances.all()]
        self.initial["conflict_parties"] = [
            p.slug for p in self.instance.conflict_parties.all()
        ]
        if by_moderator:
            # The attestation is the author's; a moderator answers for the edit
            # with a public reason, which the moderation log shows.
            self.fields.pop("attest", None)
            self.fields["reason"].required = True
            self.fields["reason"].label = "Public reason"
            self.fields["reason"].help_text = (
                "Shown in the moderation log and the post’s history. If you change "
                "the disclosure, the post shows that moderators labelled it."
            )
            self.fields["reason"].error_messages["required"] = (
                "Give a reason: the public moderation log shows it."
            )

    def clean(self):
        cleaned = super().clean()
        edited = [
            name for name in self.changed_data if name not in ("reason", "attest")
        ]
        if "tags" in edited and sorted(cleaned.get("tags", [])) == sorted(
            self.instance.tags.names()
        ):
            edited.remove("tags")  # the same keywords in another order
        if not self.errors and not edited:
            raise ValidationError(EDIT_UNCHANGED, code="unchanged")
        return cleaned


class DefaultsForm(InputForm):
    """A reader's default disclosure answers: all optional, each still confirmed per post."""

    class Meta:
        model = DisclosureDefaults
        fields = ["affiliation", "paid", "paid_by", "interests"]
        widgets = {
            "paid": forms.RadioSelect,
            "interests": forms.Textarea(attrs={"rows": 4}),
        }
        labels = {"paid": "Are you paid to post here?"}
        help_texts = {
            "affiliation": "Your relevant employer or organisation, or “none”.",
            "paid_by": "Who pays you, or will, to post.",
            "interests": "One per line, the party’s name, a colon and your tie, e.g. "
            "“Anthropic: I hold shares”. When a topic names that party, your reply "
            "form starts with this conflict of interest declared.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["paid"].choices = [("", "No default"), *Paid.choices]

    def clean(self):
        cleaned = super().clean()
        values = {name: cleaned.get(name) or "" for name in self.Meta.fields}
        check(self, validate_defaults, **values)
        return cleaned


def authorships_of(authorship: str, written: str) -> list[str] | None:
    """The authorship values the `authorship` and `written` filters allow
    together (None: any), for the thread page, its counts and search alike."""
    authorships = [authorship] if authorship else None
    if written in ThreadFilterForm.HIDING:
        excluded = ThreadFilterForm.hidden_authorships(written)
        return [a for a in authorships or Authorship.values if a not in excluded]
    if written:
        chosen = Written.authorships(written)
        return [a for a in authorships or Authorship.values if a in chosen]
    return authorships


class ThreadFilterForm(forms.Form):
    """Reader filters from the query string; unknown values get a 400 with a message.

    Every view of a thread is a URL: stance, authorship class, ties and order
    combine with each other and with the page number.
    """

    NOT_AI_GENERATED = "not_ai_generated"
    NOT_AI_AGENT = "not_ai_agent"
    # What each hiding choice leaves out: hiding AI-generated replies hides
    # those agents posted too, which an AI model wrote as well.
    HIDING = {
        NOT_AI_GENERATED: (Written.AI_GENERATED, Written.AI_AGENT),
        NOT_AI_AGENT: (Written.AI_AGENT,),
    }

    @classmethod
    def hidden_authorships(cls, written: str) -> list[str]:
        return [a for w in cls.HIDING[written] for a in Written.authorships(w)]

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
    written = forms.ChoiceField(
        label="Who wrote them",
        choices=[
            ("", "Anyone"),
            (Written.HUMAN, "Human-written only"),
            (NOT_AI_GENERATED, "Hide AI-generated"),
            (NOT_AI_AGENT, "Hide agents"),
            (Written.AI_HELPED, "AI-polished or AI-assisted only"),
            (Written.AI_GENERATED, "AI-generated only"),
            (Written.AI_AGENT, "Posted by AI agents only"),
        ],
        required=False,
        error_messages={"invalid_choice": "Choose who wrote them from the list."},
    )
    ties = forms.ChoiceField(
        label="Their authors' ties",
        choices=[
            ("", "Any"),
            (Ties.NONE, "No declared interests only"),
            (Ties.DECLARED, "Declared interest, no party named"),
            (Ties.PARTY, "Tied to a party only"),
        ],
        required=False,
        error_messages={"invalid_choice": "Choose a kind of tie from the list."},
    )
    order = forms.ChoiceField(
        choices=[("", "Oldest first"), ("newest", "Newest first")],
        required=False,
        error_messages={"invalid_choice": "Order is “newest” or left out (oldest)."},
    )

    def __init__(self, *args, topic: Topic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stance"].queryset = Stance.objects.filter(position__topic=topic)

    def is_filtering(self) -> bool:
        """Does the view pick among replies (rather than show them all, in some order)?"""
        return self.is_valid() and any(
            value for name, value in self.cleaned_data.items() if name != "order"
        )

    def is_newest_first(self) -> bool:
        return self.is_valid() and self.cleaned_data["order"] == "newest"

    def filter(self, posts):
        data = self.cleaned_data
        if data["stance"]:
            posts = posts.with_stance(data["stance"])
        if data["authorship"]:
            posts = posts.with_authorship(data["authorship"])
        if data["written"] in self.HIDING:
            posts = posts.exclude(
                authorship__in=self.hidden_authorships(data["written"])
            )
        elif data["written"]:
            posts = posts.with_written(data["written"])
        if data["ties"]:
            posts = posts.with_ties(data["ties"])
        return posts

    def segments(self) -> dict:
        """The stored tallies' segments this view picks (models.tallied_count):
        its count without counting replies."""
        data = self.cleaned_data
        return {
            "stance": data["stance"],
            "authorships": authorships_of(data["authorship"], data["written"]),
            "ties": data["ties"] or None,
        }

    def active(self) -> list[tuple[str, str]]:
        """(what it shows, the query without it) for each filter in use."""
        if not self.is_valid():
            return []
        data, shown = self.cleaned_data, []
        for name in ("stance", "authorship", "written", "ties", "order"):
            if data[name]:
                label = (
                    data[name].name
                    if name == "stance"
                    else dict(self.fields[name].choices)[data[name]]
                )
                shown.append((label, self.query(**{name: None})))
        return shown

    QUICK = [
        ("written", Written.HUMAN, "Human-written only"),
        ("written", NOT_AI_GENERATED, "Hide AI-generated"),
        ("written", NOT_AI_AGENT, "Hide agents"),
        ("ties", Ties.NONE, "No declared interests only"),
        ("ties", Ties.PARTY, "Tied to a party only"),
    ]

    def toggles(self) -> list[tuple[str, str, bool]]:
        """(label, query, on) for the one-click filters: a chip that is on turns off."""
        return [
            (label, self.query(**{name: None if on else value}), on)
            for name, value, label in self.QUICK
            for on in [self.data.get(name) == value]
        ]

    def orders(self) -> list[tuple[str, str, bool]]:
        current = self.data.get("order", "")
        return [
            (label, self.query(order=value or None), current == value)
            for value, label in self.fields["order"].choices
        ]

    def query(self, **changes: str | None) -> str:
        """This view's query string with `changes` (None drops a parameter), from page 1."""
        query, data = QueryDict(mutable=True), self.data
        pairs = (
            data.lists()
            if hasattr(data, "lists")
            else ((k, [v]) for k, v in data.items())
        )
        for name, values in pairs:
            query.setlist(name, values)
        query.pop("page", None)
        for name, value in changes.items():
            if value is None:
                query.pop(name, None)
            else:
                query[name] = value
        return f"?{query.urlencode()}"


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ["username"]

    def clean(self):
        # Before the model's own check, which would only say the name is
        # invalid: an error here leaves the username out of that check.
        cleaned = super().clean()
        if cleaned.get("username"):
            check(self, validate_username, username=cleaned["username"])
        return cleaned


class ThrottledSignIn:
    """Count each sign-in attempt before its password is checked, two ways.

    Per username and client address: after the rate's failures that pair cools
    off, and guesses from one address cannot lock the account out anywhere
    else. Per address, whatever the usernames: one address cannot try a
    password against every account. Counting first (atomically) means
    parallel guesses cannot slip past; a success wipes the pair's count and
    gives the address its attempt back. The one form that writes (the
    counts): the password is checked in clean(), so the count comes first.
    """

    retry_after: int | None = None

    def clean(self):
        # The name as the password check will read it: padded or differently
        # composed spellings of one account must share its count.
        username = self.fields["username"].to_python(self.data.get("username", ""))
        address = limits.client_key(self.request)
        who = (username[:150].casefold(), address)
        address_count = self._take(
            ("login_address", address),
            "Too many failed sign-ins from your address. Wait %(seconds)d seconds "
            "and try again.",
        )
        try:
            self._take(
                ("login", *who),
                "Too many failed sign-ins for this username from your address. "
                "Wait %(seconds)d seconds and try again, or sign in from another "
                "network.",
            )
        except ValidationError:
            limits.give_back(address_count)
            raise
        cleaned = super().clean()
        limits.clear("login", *who)
        limits.give_back(address_count)
        return cleaned

    def _take(self, limit: tuple, message: str) -> limits.Ticket:
        try:
            return limits.take(*limit)
        except limits.Limited as exc:
            self.retry_after = exc.retry_after
            raise ValidationError(
                message, code="cooling_off", params={"seconds": exc.retry_after}
            ) from exc


class SignInForm(ThrottledSignIn, AuthenticationForm):
    pass


class AdminSignInForm(ThrottledSignIn, AdminAuthenticationForm):
    pass


# The admin's forms: the same rules, through the same validators.


class ReasonForm(forms.Form):
    """The public reason a moderator gives on an admin action's confirmation page."""

    reason = forms.CharField(
        label="Public reason",
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown in the public moderation log (and, for a hidden post, in "
        "its place in the thread).",
        error_messages={
            "required": "Give a reason: the public moderation log shows it."
        },
    )


class PostAdminForm(PostEditForm):
    """The admin's edit form: a moderator's edit, under the same rules.

    Status and review are not here: they are actions that ask for a reason.
    A moderator's own posts are edited on the site (PostAdmin lets them read).
    """

    attest = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, by_moderator=True, **kwargs)


class TopicAdminForm(DisclosureChecks, forms.ModelForm):
    """A topic's change form: its article's own disclosure meets the rules every post does."""

    source_url = forms.URLField(
        label="Source URL", required=False, assume_scheme="https"
    )

    class Meta:
        model = Topic
        fields = [
            "title",
            "slug",
            "lede",
            "is_locked",
            "is_pinned",
            "created",
            "body",
            "source_publication",
            "source_url",
            "source_date",
            "disclosure_statement",
            *DISCLOSURE_FIELDS,
        ]
        widgets = {"conflict_parties": forms.CheckboxSelectMultiple}
        labels = dict(DISCLOSURE_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only this topic's parties; a new topic has none until it is saved once.
        self.fields["conflict_parties"].queryset = Party.objects.filter(
            topic_id=self.instance.pk
        )
        # An article has no agent's account behind it.
        self.fields["authorship"].choices = [("", "---------"), *PERSON_AUTHORSHIPS]

    @property
    def topic(self) -> Topic:
        return self.instance


class TopicPartFormSet(forms.BaseInlineFormSet):
    """A topic's parties or positions: each one's words checked beside its fields."""

    def clean(self):
        super().clean()
        for form in self.forms:
            if form.has_changed() and form not in self.deleted_forms:
                check(form, validate_topic_part, part=form.instance)


class PartyFormSet(TopicPartFormSet):
    def clean(self):
        super().clean()
        for form in self.deleted_forms:
            if form.instance.pk:
                validate_party_removal(party=form.instance)


class SuspensionForm(forms.ModelForm):
    """Names the user by username: moderators have no rights to browse accounts."""

    username = forms.CharField(max_length=150)

    class Meta:
        model = Suspension
        fields = ["until", "reason"]

    def clean_username(self):
        username = self.cleaned_data["username"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise ValidationError(
                "There is no user called “%(name)s”.",
                code="user_missing",
                params={"name": username},
            )
        return user

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("username") and cleaned.get("until"):
            try:
                validate_suspension(user=cleaned["username"], until=cleaned["until"])
            except ValidationError as exc:
                for name, errors in exc.error_dict.items():
                    # The service names the user; this form asks for a username.
                    self.add_error("username" if name == "user" else name, errors)
        return cleaned


class SearchForm(forms.Form):
    """/search/'s query and the thread's reader filters, across topics or in one.

    A query is only ever words (forum.search): whatever it holds, it is
    never syntax. Bad values are form errors, answered 400 with the form.
    """

    q = forms.CharField(
        label="Search replies",
        max_length=QUERY_MAX_LENGTH,
        required=False,
        error_messages={
            "max_length": f"Search for at most {QUERY_MAX_LENGTH} characters "
            "(this has %(show_value)d)."
        },
    )
    topic = forms.ModelChoiceField(
        queryset=Topic.objects.all(),
        to_field_name="slug",
        required=False,
        empty_label="Every topic",
        error_messages={"invalid_choice": "There is no such topic."},
    )
    stance = forms.SlugField(required=False)
    written = ThreadFilterForm.base_fields["written"]
    ties = ThreadFilterForm.base_fields["ties"]
    authorship = ThreadFilterForm.base_fields["authorship"]
    sort = forms.ChoiceField(
        choices=[("relevance", "Best match"), ("newest", "Newest first")],
        required=False,
        error_messages={"invalid_choice": "Sort is “relevance” or “newest”."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A NUL is one more separator between words here, not an error.
        self.fields["q"].validators = [
            v
            for v in self.fields["q"].validators
            if not isinstance(v, ProhibitNullCharactersValidator)
        ]

    def clean_q(self) -> str:
        return " ".join(self.cleaned_data["q"].replace("\x00", " ").split())

    def clean(self):
        data = super().clean()
        slug = data.get("stance")
        if slug:
            stances = Stance.objects.filter(slug=slug)
            if data.get("topic"):
                stances = stances.filter(position__topic=data["topic"])
            if not stances.exists():
                self.add_error("stance", "There is no such stance in this topic.")
        return data

    def scope(self) -> "search.Scope":
        """The replies these filters allow, as the search engines read it."""
        data = self.cleaned_data
        stance_ids = None
        if data["stance"]:
            stances = Stance.objects.filter(slug=data["stance"])
            if data["topic"]:
                stances = stances.filter(position__topic=data["topic"])
            stance_ids = list(stances.values_list("pk", flat=True))
        return search.Scope.of(
            topic_id=data["topic"].pk if data["topic"] else None,
            authorships=authorships_of(data["authorship"], data["written"]),
            ties=data["ties"] or None,
            stance_ids=stance_ids,
        )


class AgentForm(forms.Form):
    """A new AI agent account: what readers see of it on every reply."""

    name = forms.CharField(
        max_length=AGENT_NAME_MAX_LENGTH,
        help_text="Its name on every reply, e.g. “claude-factcheck”. Letters, digits "
        "and @/./+/-/_ only; people and agents share one list of names.",
    )
    ai_model = forms.CharField(
        label="AI model",
        max_length=100,
        help_text="The model it runs on, e.g. “Claude”.",
    )
    ai_maker = forms.CharField(
        label="AI model's maker",
        max_length=100,
        help_text="Who made that model, e.g. “Anthropic”.",
    )
    statement = forms.CharField(
        label="What it does",
        max_length=STATEMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="A sentence or two, shown on its profile.",
    )

    def clean(self):
        cleaned = super().clean()
        values = {name: cleaned.get(name, "").strip() for name in self.fields}
        for field, error in validate_agent_fields(**values).items():
            if field not in self.errors:
                self.add_error(field, error)
        return cleaned


class TokenForm(forms.Form):
    """A new token for an agent, and its operator's attestation."""

    label = forms.CharField(
        required=False,
        max_length=80,
        help_text="Optional: where it is used, e.g. “fact-check runner”.",
    )
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[Scope.READ, Scope.POST],
        error_messages={"required": "Choose what the token may do."},
    )
    days = forms.IntegerField(
        label="Lasts (days)",
        min_value=1,
        max_value=365,
        help_text="From 1 to 365 days.",
    )
    attest = forms.BooleanField(
        label=ATTESTATION,
        help_text="Its replies say it is an AI agent run by you.",
        error_messages={"required": "Attest that you answer for what it posts."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["days"].initial = settings.STANDPOINT_AGENT_TOKEN_DAYS


class MailChoicesForm(forms.ModelForm):
    """Per kind of notification: no mail, at once, or in a daily or weekly digest."""

    class Meta:
        model = MailSettings
        fields = [c.value for c in MailCategory]
        labels = {c.value: c.label for c in MailCategory}
        widgets = {c.value: forms.RadioSelect for c in MailCategory}


class AddressForm(forms.Form):
    email = forms.EmailField(
        label="E-mail address",
        max_length=254,
        help_text="We mail a link to it; notifications go there once you open it.",
    )


class WatchForm(forms.Form):
    level = forms.ChoiceField(choices=WatchLevel.choices)
