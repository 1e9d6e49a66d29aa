import hashlib
import io
import tomllib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from forum import services
from forum.management.commands.seed import seed_files
from forum.models import Party, Position, PositionProposal, Stance, Topic

from .factories import disclosure, make_post, stance

SEED = Path(settings.BASE_DIR) / "seeds" / "us-export-controls-frontier-ai.toml"
ARTICLE_NAME = "000_b64fc1c0623df8f7.txt"
# The article as it was supplied, kept beside the seed as its provenance.
SOURCE_ARTICLE = Path(settings.BASE_DIR) / "seeds" / "sources" / ARTICLE_NAME
# Where it was supplied from: beside the checkout on the machine it was made on,
# absent from a clean clone (CI).
SHARED_ARTICLE = Path(settings.BASE_DIR).parent / "shared" / "seeds" / ARTICLE_NAME
SLUG = "us-export-controls-frontier-ai"
TITLE = (
    "Security experts call the US ban on Anthropic's Fable and Mythos models dangerous"
)


def seed(*args):
    """Run the command; return what it wrote to stdout and stderr."""
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("seed", *map(str, args), stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def counts():
    models = (Topic, Party, Position, Stance)
    return {model.__name__: model.objects.count() for model in models}


def article():
    return tomllib.loads(SEED.read_text(encoding="utf-8"))["article"]


def edit(path, old, new):
    """Replace the one occurrence of `old` in the file; return the 1-based line of `new`."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return line_of(text, new)


def remove_position(path, slug):
    text = path.read_text(encoding="utf-8")
    start = text.index(f'[[positions]]\nslug = "{slug}"\n')
    end = text.index("\n\n", start) + 2
    path.write_text(text[:start] + text[end:], encoding="utf-8")


@pytest.fixture
def seed_copy(tmp_path):
    """A copy of the real seed file, to edit."""
    path = tmp_path / SEED.name
    path.write_bytes(SEED.read_bytes())
    return path


@pytest.mark.django_db
def test_seed_creates_the_article_topic_with_its_parties_positions_and_disclosure():
    stdout, stderr = seed()

    topic = Topic.objects.get(slug=SLUG)
    assert (stdout, stderr) == (f"Created “{TITLE}” from {SEED.name}\n", "")
    parties = {
        name: topic.party_named(name)
        for name in ("Anthropic", "US government", "Amazon", "open letter signatories")
    }
    assert None not in parties.values()
    assert len({party.pk for party in parties.values()}) == 4
    assert topic.authorship == "ai_generated"
    assert (topic.ai_model, topic.ai_maker) == ("Claude", "Anthropic")
    assert topic.conflict == "declared"
    assert list(topic.conflict_parties.all()) == [parties["Anthropic"]]
    assert "Anthropic" in topic.conflict_details
    assert topic.maker_party == parties["Anthropic"]
    assert topic.disclosure_statement.startswith("Disclosure belongs here too")


@pytest.mark.django_db
def test_seed_gives_each_of_at_least_four_positions_both_stances():
    seed()

    positions = Position.objects.filter(topic__slug=SLUG)
    assert positions.count() >= 4
    assert {
        "The ban endangers defenders",
        "The ban is justified on national-security grounds",
        "Rules for AI models should be transparent, democratic, research-grounded "
        "and minimal",
        "Documenting a model's dangers should not be what gets it banned",
    } <= set(positions.values_list("claim", flat=True))
    for position in positions:
        assert sorted(position.stances.values_list("slug", "name")) == [
            (f"opposes-{position.slug}", f"Opposes: {position.claim}"),
            (f"supports-{position.slug}", f"Supports: {position.claim}"),
        ]


@pytest.mark.django_db
def test_topic_body_holds_the_article_text_a_paragraph_per_line():
    seed()

    topic = Topic.objects.get(slug=SLUG)
    lines = [line for line in article()["text"].splitlines() if line.strip()]
    assert topic.body.split("\n\n") == lines
    assert topic.body_html.count("<p>") == len(lines) == 4
    for position in topic.positions.all():
        assert position.quote in topic.body
    assert topic.disclosure_statement in topic.body


def test_seed_article_text_is_the_supplied_article_unchanged():
    text = article()["text"]

    assert hashlib.sha256(text.encode()).hexdigest() == article()["text_sha256"]
    assert SOURCE_ARTICLE.is_file(), (
        f"the supplied article is missing: {SOURCE_ARTICLE}"
    )
    assert text.encode() == SOURCE_ARTICLE.read_bytes()


def test_kept_article_is_byte_for_byte_the_one_supplied():
    if not SHARED_ARTICLE.is_file():
        pytest.skip(
            f"no supplied copy at {SHARED_ARTICLE} to compare with (a clean clone): "
            f"the seed is checked against the kept copy, {SOURCE_ARTICLE.name}"
        )

    assert SOURCE_ARTICLE.read_bytes() == SHARED_ARTICLE.read_bytes()


def test_seed_reads_only_the_seed_files_not_their_sources():
    """seeds/sources/ keeps what the seeds were made from: never a seed itself."""
    files = seed_files([SEED.parent])

    assert SEED in files
    assert all(path.suffix == ".toml" and path.parent == SEED.parent for path in files)
    assert SOURCE_ARTICLE not in files


@pytest.mark.django_db
def test_seeding_twice_duplicates_nothing():
    seed()
    before = counts()
    stance_pks = set(Stance.objects.values_list("pk", flat=True))

    stdout, _ = seed()

    assert stdout == f"Updated “{TITLE}” from {SEED.name}\n"
    assert counts() == before
    assert set(Stance.objects.values_list("pk", flat=True)) == stance_pks


@pytest.mark.django_db
def test_edited_seed_updates_the_topic_in_place(seed_copy):
    seed(seed_copy)
    topic = Topic.objects.get()
    stance_pks = set(Stance.objects.values_list("pk", flat=True))
    edit(seed_copy, f'title = "{TITLE}"', 'title = "Experts call the ban dangerous"')
    edit(
        seed_copy,
        'claim = "The ban endangers defenders"',
        'claim = "The ban puts defenders at risk"',
    )

    seed(seed_copy)

    assert Topic.objects.get().pk == topic.pk
    topic.refresh_from_db()
    assert topic.title == "Experts call the ban dangerous"
    position = topic.positions.get(slug="ban-endangers-defenders")
    assert position.claim == "The ban puts defenders at risk"
    assert sorted(position.stances.values_list("name", flat=True)) == [
        "Opposes: The ban puts defenders at risk",
        "Supports: The ban puts defenders at risk",
    ]
    assert set(Stance.objects.values_list("pk", flat=True)) == stance_pks


@pytest.mark.django_db
def test_dry_run_writes_nothing(seed_copy):
    stdout, _ = seed("--dry-run")

    assert stdout == f"Would seed “{TITLE}” from {SEED.name}\n"
    assert set(counts().values()) == {0}

    seed(seed_copy)
    before = counts()
    edit(seed_copy, f'title = "{TITLE}"', 'title = "Changed"')
    seed(seed_copy, "--dry-run")
    assert Topic.objects.get().title == TITLE
    assert counts() == before


def line_of(text, needle):
    return text[: text.index(needle)].count("\n") + 1


def lines_of_position(text, slug):
    """The lines of the [[positions]] table with `slug`, header to last key."""
    start = text.index(f'[[positions]]\nslug = "{slug}"\n')
    end = text.index("\n\n", start)
    return range(line_of(text, text[start:]), line_of(text, text[end:]) + 1)


# (old, new, message, lines it may blame given the edited text)
BAD_EDITS = [
    pytest.param(
        'slug = "ban-endangers-defenders"',
        'slug = "ban-endangers-defenders',
        "not valid TOML: ",
        lambda text: [line_of(text, 'slug = "ban-endangers-defenders\n')],
        id="invalid toml",
    ),
    pytest.param(
        'quote = "As the signatories put it',
        'quote = "Nobody said this, as the signatories put it',
        "this quote is not in the article text word for word",
        lambda text: [line_of(text, "Nobody said this")],
        id="quote not in the text",
    ),
    pytest.param(
        'slug = "amazon"',
        'slug = "Amazon Inc"',
        "parties.slug 'Amazon Inc' may hold only lowercase letters, digits and hyphens",
        lambda text: [line_of(text, "Amazon Inc")],
        id="bad slug",
    ),
    pytest.param(
        "seventy-six cybersecurity experts",
        "seventy-seven cybersecurity experts",
        "article.text does not match text_sha256: the article was altered",
        lambda text: range(line_of(text, "text_sha256 ="), text.count("\n") + 1),
        id="text altered",
    ),
    pytest.param(
        'claim = "Rules for AI models should be transparent, democratic, '
        'research-grounded and minimal"',
        'claim = "  "',
        "positions.claim is required",
        lambda text: lines_of_position(text, "rules-transparent-minimal"),
        id="third position without a claim",
    ),
    # SQLite would store these and PostgreSQL refuse them mid-seed; both refuse here.
    pytest.param(
        'name = "Anthropic"',
        f'name = "{"Anthropic " * 11}"',
        "parties.name may be at most 100 characters long (it has 109)",
        lambda text: [line_of(text, "Anthropic Anthropic")],
        id="party name too long",
    ),
    pytest.param(
        'slug = "rules-transparent-minimal"',
        f'slug = "{"rules-" * 14}minimal"',
        "positions.slug may be at most 80 characters long (it has 91)",
        lambda text: [line_of(text, "rules-rules-")],
        id="position slug too long",
    ),
    pytest.param(
        'claim = "Rules for AI models should be transparent, democratic, '
        'research-grounded and minimal"',
        f'claim = "{"Rules should be minimal. " * 9}"',
        "positions.claim may be at most 200 characters long (it has 224)",
        lambda text: [line_of(text, "Rules should be minimal. Rules")],
        id="position claim too long",
    ),
    pytest.param(
        'aliases = ["Anthropic PBC"]',
        f'aliases = ["Anthropic PBC", "{"A" * 490}"]',
        "parties.aliases may hold at most 500 characters together",
        lambda text: [line_of(text, 'aliases = ["Anthropic PBC", "AAA')],
        id="party aliases too long",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("old", "new", "message", "blamed"), BAD_EDITS)
def test_bad_seed_file_is_refused_naming_the_file_and_line(
    seed_copy, old, new, message, blamed
):
    edit(seed_copy, old, new)

    with pytest.raises(CommandError) as excinfo:
        seed(seed_copy)

    where, _, rest = str(excinfo.value).partition(": ")
    path, _, line = where.rpartition(":")
    assert (path, rest[: len(message)]) == (str(seed_copy), message)
    assert int(line) in blamed(seed_copy.read_text(encoding="utf-8"))
    assert set(counts().values()) == {0}


@pytest.mark.django_db
def test_unknown_disclosure_value_is_refused_naming_the_file(seed_copy):
    edit(seed_copy, 'authorship = "ai_generated"', 'authorship = "robot"')

    with pytest.raises(CommandError) as excinfo:
        seed(seed_copy)

    assert str(excinfo.value) == f"{seed_copy}: Value 'robot' is not a valid choice."
    assert set(counts().values()) == {0}


@pytest.mark.django_db
def test_conflict_party_missing_from_parties_is_refused_naming_the_line(seed_copy):
    line = edit(
        seed_copy, 'conflict_parties = ["anthropic"]', 'conflict_parties = ["openai"]'
    )

    with pytest.raises(CommandError) as excinfo:
        seed(seed_copy)

    assert str(excinfo.value).startswith(f"{seed_copy}:{line}: ")
    assert "openai" in str(excinfo.value)


@pytest.mark.django_db
def test_seed_refuses_a_missing_path_or_an_empty_folder(tmp_path):
    with pytest.raises(CommandError) as excinfo:
        seed(tmp_path / "nope.toml")
    assert str(excinfo.value) == f"{tmp_path / 'nope.toml'}: no such file or folder"

    with pytest.raises(CommandError) as excinfo:
        seed(tmp_path)
    assert str(excinfo.value) == f"No seed files (*.toml) in {tmp_path}"


@pytest.mark.django_db
def test_position_dropped_from_the_seed_is_deleted_unless_a_post_takes_its_side(
    seed_copy,
):
    seed(seed_copy)
    topic = Topic.objects.get()
    taken = stance(topic, "opposes-export-rules-cannot-stop-abusers")
    make_post(topic=topic, stances=[taken])
    unused = topic.positions.get(slug="documenting-dangers-not-grounds-for-ban")
    remove_position(seed_copy, "export-rules-cannot-stop-abusers")
    remove_position(seed_copy, unused.slug)

    _, stderr = seed(seed_copy)

    assert not Position.objects.filter(pk=unused.pk).exists()
    assert not Stance.objects.filter(position_id=unused.pk).exists()
    assert topic.positions.filter(pk=taken.position_id).exists()
    assert topic.posts.get().stances.get() == taken
    assert stderr == (
        "  kept “Export rules cannot stop those best placed to abuse a powerful "
        "model”: posts still refer to it\n"
    )


@pytest.mark.django_db
def test_reseeding_keeps_positions_readers_proposed_and_moderators_approved(
    seed_copy, user, moderator
):
    seed(seed_copy)
    topic = Topic.objects.get()
    proposal = services.position_propose(
        topic=topic,
        author=user,
        claim="Defenders should get licensed access",
        attested=True,
        disclosure=disclosure(),
    )
    services.proposals_decide(
        proposals=PositionProposal.objects.filter(pk=proposal.pk),
        approve=True,
        actor=moderator,
        reason="The debate lacks it.",
    )

    seed(seed_copy)

    kept = topic.positions.get(claim="Defenders should get licensed access")
    assert kept.proposed_by == user
    assert kept.stances.count() == 2


@pytest.mark.django_db
def test_only_new_leaves_an_existing_topic_and_its_edits_alone(seed_copy):
    """`serve` seeds this way on every start: a restart must not undo moderators."""
    seed(seed_copy)
    Topic.objects.filter(slug=SLUG).update(title="Edited by a moderator")
    Position.objects.create(
        topic=Topic.objects.get(slug=SLUG), slug="added", claim="Added by a moderator"
    )

    out, _ = seed("--only-new", seed_copy)

    assert "Kept" in out
    topic = Topic.objects.get(slug=SLUG)
    assert topic.title == "Edited by a moderator"
    assert topic.positions.filter(slug="added").exists()
