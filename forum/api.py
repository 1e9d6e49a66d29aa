"""The read API, /api/v1/: the debate's records as JSON, described by OpenAPI.

django-ninja builds the OpenAPI document and validates parameters from the
typed signatures below; the records come from forum.opendata, as the exports'
do. Every answer is public: the API reads no session, so staff rights never
come from it, and it answers everyone from the same cache, versioned like the
pages (forum.caching.serve_cached) with ETag and Last-Modified. Every request
counts against a per-address limit first.
"""

import time
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path as FilePath

from django.conf import settings
from django.core import signing
from django.core.paginator import InvalidPage, Paginator
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.http import urlencode
from ninja import NinjaAPI, Query, Schema
from ninja.decorators import decorate_view
from ninja.errors import ValidationError

from . import limits, opendata
from . import writeapi as agent_writes
from .caching import fragment, serve_cached
from .forms import ModerationLogFilterForm, ThreadFilterForm
from .models import ModerationAction, Topic, tallied_count
from .views.records import moderation_stamp
from .views.threads import list_stamp, topic_version

api = NinjaAPI(
    title="Standpoint open data",
    version="1",
    description=(
        "Who argued what in each debate, where they stood, who or what wrote it, "
        "what ties they declared and what moderators did. Read-only and public; "
        "bulk downloads are at /data/{slug}/datapackage.json."
    ),
    urls_namespace="api-1",
    docs_url="/docs",
    openapi_url="/openapi.json",
    docs_decorator=lambda view: served(_code_stamp)(view),
)

MAX_ID = 2**63 - 1
CURSOR_SALT = "standpoint.api.cursor"


class ApiError(Exception):
    """A refusal with its status, a message, and the parameter at fault."""

    def __init__(self, status: int, detail: str, parameter: str | None = None):
        super().__init__(detail)
        self.status, self.detail, self.parameter = status, detail, parameter


def error(status: int, detail: str, parameter: str | None = None) -> JsonResponse:
    body = {"detail": detail}
    if parameter:
        body["errors"] = [{"parameter": parameter, "message": detail}]
    return JsonResponse(body, status=status)


@api.exception_handler(ApiError)
def api_error(request, exc: ApiError):
    return error(exc.status, exc.detail, exc.parameter)


@api.exception_handler(ValidationError)
def invalid_parameters(request, exc: ValidationError):
    """ninja's 422 as a 400 that names each parameter: the request was wrong."""
    errors = [
        {"parameter": str(item["loc"][-1]), "message": item["msg"]}
        for item in exc.errors
    ]
    detail = "; ".join(f"{e['parameter']}: {e['message']}" for e in errors)
    return JsonResponse({"detail": detail, "errors": errors}, status=400)


# --- Serving: limit, cache, unknown parameters --------------------------------


def served(stamp, params: frozenset[str] = frozenset()):
    """Limit, refuse unknown parameters, then answer from the cache at the
    version `stamp(request, **path)` gives: (version, last_modified), or the
    JSON 404 to answer instead."""

    def decorator(run):
        @wraps(run)
        def wrapper(request: HttpRequest, **kwargs):
            try:
                limits.take("api", limits.client_key(request))
            except limits.Limited as exc:
                response = error(
                    429, f"Too many requests; try again in {exc.retry_after} s."
                )
                response["Retry-After"] = str(exc.retry_after)
                return response
            unknown = sorted(request.GET.keys() - params)
            if unknown:
                known = ", ".join(sorted(params)) or "none"
                return error(
                    400,
                    f"Unknown parameter {unknown[0]!r}; this endpoint takes: {known}.",
                    unknown[0],
                )
            found = stamp(request, **kwargs)
            if isinstance(found, HttpResponse):
                return found
            version, modified = found
            return serve_cached(
                request,
                version,
                modified,
                lambda: run(request, **kwargs),
                params=params,
            )

        return wrapper

    return decorator


def _topic_stamp(request, slug: str):
    found = Topic.objects.stamp(slug)
    if found is None:
        return error(404, f"There is no topic {slug!r}.")
    request.topic_stamp = found
    return f"api:{topic_version(*found)}", found[1]


def _post_stamp(request, post_id: int):
    found = Topic.objects.post_stamp(post_id) if post_id <= MAX_ID else None
    if found is None:
        return error(404, f"There is no reply {post_id}.")
    request.topic_stamp = found
    return f"api:post:{topic_version(*found)}", found[1]


def api_topic(pk: int, updated: datetime) -> Topic:
    """The topic with its parties (the maker-is-a-party flag reads them), kept
    in the cache per topic version: the pages after a version's first read
    neither."""

    def load() -> Topic:
        topic = Topic.objects.defer("body", "body_html").get(pk=pk)
        prefetch_related_objects([topic], "parties")
        return topic

    return fragment(("api-topic", topic_version(pk, updated)), load)


def _list_stamp(request):
    version, modified = list_stamp()
    return f"api:topics:{version}", modified


def _log_stamp(request):
    version, modified = moderation_stamp()
    return f"api:{version}", modified


_STARTED = datetime.fromtimestamp(FilePath(__file__).stat().st_mtime, tz=UTC)


def _code_stamp(request, **kwargs):
    """The OpenAPI document and its docs page change with the code only."""
    return f"api:code:{opendata.SITE_VERSION}:{_STARTED.isoformat()}", _STARTED


# --- Schemas -----------------------------------------------------------------


class ErrorOut(Schema):
    detail: str


class Review(Schema):
    state: str
    label: str
    note: str
    reviewed_at: str | None


class ArticleDisclosure(Schema):
    authorship: str
    authorship_label: str
    digital_source_type: str | None
    ai_model: str
    ai_maker: str
    ai_maker_is_party: bool
    ai_maker_party: str | None
    affiliation: str
    paid: str
    paid_by: str
    conflict: str
    conflict_parties: list[str]
    conflict_details: str


class PostDisclosure(ArticleDisclosure):
    attested_at: str | None
    amended: bool
    review: Review


class StanceOut(Schema):
    stance: str
    position: str
    polarity: str


class PostOut(Schema):
    id: int
    number: int
    topic: str
    url: str
    hidden: bool
    hidden_reason: str | None
    author: str | None
    agent_operator: str | None
    created: str | None
    edited: str | None
    edit_count: int | None
    parent: int | None
    passage: int | None
    body: str | None
    body_html: str | None
    disclosure: PostDisclosure | None
    history_url: str | None
    disclosure_url: str | None
    stances: list[StanceOut]
    tags: list[str]


class ModerationOut(Schema):
    id: int
    created: str
    action: str
    label: str
    actor: str
    reason: str
    topic: str | None
    post: int | None
    suspended_user: str | None
    suspended_until: str | None
    agent: str | None
    agent_operator: str | None
    position_claim: str | None


class PostDetail(PostOut):
    moderation: list[ModerationOut]


class PostPage(Schema):
    topic: str
    count: int
    limit: int
    next_cursor: str | None
    next: str | None
    results: list[PostOut]


class Source(Schema):
    publication: str
    url: str | None
    date: str | None


class PartyOut(Schema):
    slug: str
    name: str
    aliases: str


class Side(Schema):
    stance: str
    replies: int


class PositionOut(Schema):
    slug: str
    claim: str
    summary: str
    quote: str
    supports: Side
    opposes: Side


class TopicOut(Schema):
    slug: str
    title: str
    url: str
    lede: str
    source: Source
    disclosure_statement: str
    disclosure: ArticleDisclosure
    created: str
    updated: str
    locked: bool
    pinned: bool
    replies: int
    hidden_replies: int
    parties: list[PartyOut]
    positions: list[PositionOut]
    posts_url: str
    data_url: str


class TopicList(Schema):
    results: list[TopicOut]


class ModerationPage(Schema):
    count: int
    page: int
    pages: int
    next: str | None
    previous: str | None
    results: list[ModerationOut]


ERRORS = {400: ErrorOut, 404: ErrorOut, 429: ErrorOut}


def answer(data: dict) -> JsonResponse:
    """`data` as it stands. The schemas above document it in the OpenAPI
    document, and the tests check answers against them; validating every
    answer again here would cost a third of a page of fifty replies."""
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False})


# --- Endpoints ---------------------------------------------------------------


@api.get("/topics", response={200: TopicList, 429: ErrorOut}, url_name="topics")
@decorate_view(served(_list_stamp))
def topics(request):
    """Every topic with its article's disclosure, parties, positions and counts."""
    found = list(
        Topic.objects.prefetch_related("positions", "parties", "conflict_parties")
    )
    return answer({"results": opendata.topic_records(found)})


POST_FILTERS = ("stance", "written", "ties", "authorship", "order")


@api.get(
    "/topics/{slug}/posts", response={200: PostPage, **ERRORS}, url_name="topic_posts"
)
@decorate_view(served(_topic_stamp, frozenset({"cursor", "limit", *POST_FILTERS})))
def topic_posts(
    request,
    slug: str,
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=100),
    stance: str = "",
    written: str = "",
    ties: str = "",
    authorship: str = "",
    order: str = "",
):
    """Replies in thread order (`order=newest` for newest first), `limit` at a
    time, with the thread page's filters; follow `next` for the rest. A hidden
    reply is a tombstone, in place, in the unfiltered thread; filters pick
    among published replies, as on the page."""
    topic = api_topic(*request.topic_stamp)
    data = {"stance": stance, "written": written, "ties": ties}
    data |= {"authorship": authorship, "order": order}
    filters = ThreadFilterForm(data, topic=topic)
    if not filters.is_valid():
        name, messages = next(iter(filters.errors.items()))
        raise ApiError(400, f"{name}: {messages[0]}", name)
    newest = filters.is_newest_first()
    posts = topic.posts.newest_first() if newest else topic.posts.in_thread_order()
    if filters.is_filtering():
        posts = filters.filter(posts.published())
        count = tallied_count(topic, **filters.segments())
    else:
        count = topic.reply_count + topic.hidden_count
    if cursor is not None:
        after = read_cursor(cursor, topic, newest)
        posts = posts.filter(**{"number__lt" if newest else "number__gt": after})
    rows = list(opendata.posts_for_records(posts)[: limit + 1])
    more = len(rows) > limit
    rows = opendata.attach(rows[:limit], topic)
    following = make_cursor(topic, rows[-1].number, newest) if more else None
    return answer(
        {
            "topic": topic.slug,
            "count": count,
            "limit": limit,
            "next_cursor": following,
            "next": _next_url(request, following) if following else None,
            "results": [opendata.post_record(post) for post in rows],
        }
    )


@api.get("/posts/{int:post_id}", response={200: PostDetail, **ERRORS}, url_name="post")
@decorate_view(served(_post_stamp))
def post(request, post_id: int):
    """One reply with the public moderation actions about it."""
    record = opendata.reply_record(post_id, api_topic(*request.topic_stamp))
    if record is None:
        raise ApiError(404, f"There is no reply {post_id}.")
    actions = ModerationAction.objects.for_log_page().filter(post_id=post_id)
    return answer(
        {
            **record,
            "moderation": opendata.moderation_actions(actions),
        }
    )


@api.get("/moderation", response={200: ModerationPage, **ERRORS}, url_name="moderation")
@decorate_view(served(_log_stamp, frozenset({"topic", "page"})))
def moderation(request, topic: str = "", page: int = Query(1, ge=1)):
    """The public moderation log, newest first, as on /moderation/."""
    filters = ModerationLogFilterForm({"topic": topic})
    if not filters.is_valid():
        name, messages = next(iter(filters.errors.items()))
        raise ApiError(400, f"{name}: {messages[0]}", name)
    actions = ModerationAction.objects.for_log_page()
    if filters.cleaned_data["topic"]:
        actions = actions.for_topic(filters.cleaned_data["topic"])
    paginator = Paginator(actions, settings.STANDPOINT_POSTS_PER_PAGE)
    try:
        shown = paginator.page(page)
    except InvalidPage as exc:
        raise ApiError(404, f"page: no page {page} ({exc})", "page") from exc

    def link(number: int) -> str:
        query = {"topic": topic} if topic else {}
        return f"{reverse('api-1:moderation')}?{urlencode(query | {'page': number})}"

    return answer(
        {
            "count": paginator.count,
            "page": shown.number,
            "pages": paginator.num_pages,
            "next": link(shown.next_page_number()) if shown.has_next() else None,
            "previous": (
                link(shown.previous_page_number()) if shown.has_previous() else None
            ),
            "results": opendata.moderation_actions(shown.object_list),
        }
    )


# --- Cursors -----------------------------------------------------------------


def make_cursor(topic: Topic, number: int, newest: bool) -> str:
    """An opaque, signed place in a thread: after reply `number`, in one order.

    It carries its expiry rounded up to the hour, so everyone who reaches the
    same place within the hour gets the same cursor, and the same cached page.
    """
    hour = 3600
    expires = (
        int(time.time()) // hour + 1
    ) * hour + settings.STANDPOINT_API_CURSOR_SECONDS
    data = [topic.pk, number, "newest" if newest else "oldest", expires]
    return signing.dumps(data, salt=CURSOR_SALT)


def read_cursor(cursor: str, topic: Topic, newest: bool) -> int:
    try:
        topic_pk, number, order, expires = signing.loads(cursor, salt=CURSOR_SALT)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise ApiError(
            400,
            "cursor: not a cursor this API gave (changed or cut short); use the "
            "`next_cursor` of a page, or leave it out to start at the beginning.",
            "cursor",
        ) from exc
    if topic_pk != topic.pk:
        raise ApiError(400, "cursor: it belongs to another topic.", "cursor")
    if order != ("newest" if newest else "oldest"):
        raise ApiError(
            400,
            f"cursor: it was made for order={order}; ask with that order.",
            "cursor",
        )
    if expires < time.time():
        raise ApiError(
            400, "cursor: it has expired; start again without a cursor.", "cursor"
        )
    return number


def _next_url(request, cursor: str) -> str:
    query = {key: value for key, value in request.GET.items() if key != "cursor"}
    query["cursor"] = cursor
    return f"{request.path}?{urlencode(sorted(query.items()))}"


# --- Write API: replies by AI agents ----------------------------------------


class FieldError(Schema):
    field: str
    message: str


class RefusalOut(Schema):
    detail: str
    errors: list[FieldError] = []


WRITE_ERRORS = dict.fromkeys((400, 401, 403, 404, 409, 413, 422, 429, 503), RefusalOut)


@api.post(
    "/topics/{slug}/replies",
    response={200: PostOut, 201: PostOut, **WRITE_ERRORS},
    url_name="topic_replies",
    # The body is read after the token (forum.writeapi): a request without a
    # valid token is a 401 whatever it sends. Documented here as it is read.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": agent_writes.ReplyIn.model_json_schema()}
            },
        }
    },
)
def topic_replies(request, slug: str):
    """Post a reply as an AI agent: `Authorization: Bearer <token>` (scope
    `post`) and an `Idempotency-Key` header. The reply form's fields and every
    one of its rules; the disclosure's authorship (`ai_agent`), model and maker
    come from the agent's account. The same key within a day answers 200 with
    the reply it first posted (`Idempotent-Replayed: true`) instead of posting
    it again."""
    return agent_writes.post_reply(request, slug)


class TokenOut(Schema):
    prefix: str
    scopes: list[str]
    expires: str


class AgentOut(Schema):
    name: str
    operator: str
    ai_model: str
    ai_maker: str
    statement: str
    status: str
    profile_url: str
    token: TokenOut


@api.get(
    "/agent",
    response={200: AgentOut, 401: RefusalOut, 403: RefusalOut},
    url_name="agent",
)
def agent(request):
    """The agent a token acts for (`Authorization: Bearer <token>`, scope
    `read`): its account, operator and this token's scopes and expiry. A way
    to check a token before posting with it."""
    return agent_writes.whoami(request)
