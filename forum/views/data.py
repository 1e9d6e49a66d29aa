"""Open-data downloads, /data/<slug>/: the files forum.exports writes."""

from django.http import (
    FileResponse,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from .. import exports, limits
from ..models import Topic


def _answer(request, slug: str, name: str | None) -> HttpResponse:
    try:
        limits.take("api", limits.client_key(request))
    except limits.Limited as exc:
        response = JsonResponse(
            {"detail": f"Too many requests; try again in {exc.retry_after} s."},
            status=429,
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    topic = Topic.objects.defer("body", "body_html").filter(slug=slug).first()
    if topic is None:
        return JsonResponse({"detail": f"There is no topic {slug!r}."}, status=404)
    snapshot = exports.Snapshot(topic)
    etag = f'"{snapshot.version}-{name or "datapackage"}"'
    modified = int(topic.updated.timestamp())
    response = get_conditional_response(request, etag=etag, last_modified=modified)
    if response is None:
        if name is None:
            base = request.build_absolute_uri("/").rstrip("/")
            path = exports.package(snapshot, base)
            response = FileResponse(path.open("rb"), content_type="application/json")
        else:
            export = exports.FILES[name]
            content_type = f"{export.media_type}; charset=utf-8"
            path = snapshot.path(name)
            if path.exists():
                response = FileResponse(path.open("rb"), content_type=content_type)
            else:
                response = StreamingHttpResponse(
                    exports.streamed(snapshot, name), content_type=content_type
                )
            response["Content-Disposition"] = f'inline; filename="{topic.slug}-{name}"'
    response["ETag"] = etag
    response["Last-Modified"] = http_date(modified)
    response["Access-Control-Allow-Origin"] = "*"
    patch_cache_control(response, public=True, max_age=0, must_revalidate=True)
    return response


@require_safe
def data_package(request, slug):
    """datapackage.json: what the files hold, their licence, hashes and sizes."""
    return _answer(request, slug, None)


@require_safe
def data_file(request, slug, name):
    if name not in exports.FILES:
        known = ", ".join(["datapackage.json", *exports.FILES])
        return JsonResponse(
            {"detail": f"There is no file {name!r}; the files are: {known}."},
            status=404,
        )
    return _answer(request, slug, name)
