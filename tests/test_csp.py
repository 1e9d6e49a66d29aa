"""The policy header built once (forum.csp) says what django-csp would say."""

from csp.middleware import CSPMiddleware
from csp.utils import build_policy
from django.http import HttpResponse
from django.test import RequestFactory

from forum.csp import ContentSecurityPolicyMiddleware, site_policy


def answer(middleware_class, request, response):
    middleware = middleware_class(lambda request: response)
    return middleware(request)


def test_every_page_gets_django_csps_own_policy(client, db):
    response = client.get("/")

    assert response["Content-Security-Policy"] == build_policy()
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_a_view_that_changes_its_policy_gets_it_changed():
    """A response django-csp's decorators marked goes through django-csp itself."""
    factory = RequestFactory()
    updated = HttpResponse("x")
    updated._csp_update = {"img-src": ["https://images.example"]}

    ours = answer(ContentSecurityPolicyMiddleware, factory.get("/"), updated)
    theirs = answer(CSPMiddleware, factory.get("/"), HttpResponse("x"))

    assert "https://images.example" in ours["Content-Security-Policy"]
    assert "https://images.example" not in theirs["Content-Security-Policy"]


def test_a_changed_setting_changes_the_policy(settings, client, db):
    site_policy()  # built, and kept
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}

    response = client.get("/")

    assert response["Content-Security-Policy"] == "default-src 'none'"
