"""The user's preferences page and the one-click unsubscribe endpoint (RFC 8058)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .. import conf, users
from ..models import NotificationPreference
from . import login, modes, tokens
from .forms import PreferencesForm

ONE_CLICK = "One-Click"  # the value RFC 8058 posts as List-Unsubscribe=One-Click
FALLBACK_BASE = "messaging/preferences/base.html"


def base_template() -> str:
    """The site's ``base.html`` when it has one (``wagtail start`` writes one), else ours."""
    try:
        get_template("base.html")
    except TemplateDoesNotExist:
        return FALLBACK_BASE
    return "base.html"


def page(
    request: HttpRequest, template: str, title: str, context: dict, status: int = 200
) -> HttpResponse:
    """``template`` (extending ``messaging/preferences/page.html``) in the site's base template,
    with ``title`` as its title and heading."""
    context = {"base_template": base_template(), "title": title, **context}
    return render(request, template, context, status=status)


@login.login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """The signed-in user's modes per optional context type; POST (with CSRF) saves them."""
    with translation.override(users.user_language(request.user)):
        form = PreferencesForm(request.user, request.POST or None)
        if request.method == "POST" and form.is_valid():
            form.save()
            messages.success(request, _("Your notification preferences were saved."))
            return redirect("messaging:preferences")
        return page(
            request,
            "messaging/preferences/preferences.html",
            _("Email notifications"),
            {"form": form},
        )


def unsubscribe_target(token: str):
    """The user and the optional context type a token names; 404 when it is tampered
    with, expired, or names a user or type that no longer exists or is mandatory."""
    try:
        request = tokens.read_token(token)
    except signing.BadSignature as error:
        raise Http404("This unsubscribe link is not valid.") from error
    user = get_user_model().objects.filter(pk=request.user_id).first()
    spec = conf.context_type_specs().get(request.context_type)
    if user is None or spec is None or not spec.optional:
        raise Http404("This unsubscribe link is not valid.")
    return user, spec


@csrf_exempt  # mail clients post without cookies or a CSRF token (RFC 8058); the token is
# the authorization, and the change is idempotent
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a confirmation page whose button posts; changes nothing (link scanners GET).

    POST with ``List-Unsubscribe=One-Click``: the type is set ``off``; 200 every time.
    """
    user, spec = unsubscribe_target(token)
    with translation.override(users.user_language(user)):
        context = {"context_type": spec, "token": token, "one_click": ONE_CLICK}
        if request.method == "GET":
            return page(
                request, "messaging/preferences/unsubscribe.html", _("Unsubscribe"), context
            )
        if request.POST.get("List-Unsubscribe") != ONE_CLICK:
            return HttpResponseBadRequest("Post List-Unsubscribe=One-Click to unsubscribe.")
        modes.set_mode(user, spec.value, NotificationPreference.Mode.OFF)
        return page(request, "messaging/preferences/unsubscribed.html", _("Unsubscribed"), context)
