"""Where a signed-out user goes to sign in before seeing their notification preferences."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import decorators
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, Resolver404, get_script_prefix, resolve

# Wagtail's catch-all URL for pages: a path only it matches is no login page (it answers 404
# unless a page lives there).
WAGTAIL_PAGES = "wagtail_serve"


def login_url() -> str:
    """``LOGIN_URL`` when it leads to a view of the site (or to another host), else Wagtail's
    front-end login (``WAGTAIL_FRONTEND_LOGIN_URL``, ``wagtailcore_login``), else the
    Wagtail admin's login.

    A new ``wagtail start`` site keeps Django's default ``/accounts/login/``, which nothing
    serves: without this, signed-out users would land on a 404.
    """
    candidates = (
        settings.LOGIN_URL,
        getattr(settings, "WAGTAIL_FRONTEND_LOGIN_URL", None),
        "wagtailcore_login",
        "wagtailadmin_login",
    )
    for candidate in candidates:
        if candidate and (url := served_url(str(candidate))):
            return url
    return resolve_url(settings.LOGIN_URL)


def served_url(name_or_url: str) -> str | None:
    """The URL of ``name_or_url`` (a URL name or a path) when a view of the site other than
    Wagtail's page catch-all serves it, or when it is on another host; else ``None``."""
    try:
        url = resolve_url(name_or_url)
    except NoReverseMatch:
        return None
    parts = urlsplit(url)
    if parts.netloc:
        return url  # another host, such as the institution's single sign-on
    path = parts.path
    prefix = get_script_prefix()
    if path.startswith(prefix):
        path = "/" + path[len(prefix) :]
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return None if match.url_name == WAGTAIL_PAGES else url


def login_required(view: Callable) -> Callable:
    """Django's ``login_required``, sending signed-out users to :func:`login_url`, which is
    chosen per request (the URLs it tries exist only once the URLconf is loaded)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        guarded = decorators.login_required(view, login_url=login_url())
        return guarded(request, *args, **kwargs)

    return wrapped
