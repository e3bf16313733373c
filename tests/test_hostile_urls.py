"""Every URL the app ships answers garbage in its path and query string without a 500.

The URLs come from the URL resolver (every route naming the app: its Wagtail pages,
snippets and choosers, its Django admin pages, the users' pages) and from Wagtail's
registry of bulk actions, so a URL added later is walked too. The query parameters tried
on a page are the ones it reads, recorded while it answers a plain request (filters,
``q``, ``p``, ``ordering``, ``export``, ``next``...); a Django admin listing also filters
by any field named in its URL, so those are tried there, and its actions are posted
garbage ids. Each parameter gets each value of :data:`GARBAGE`, one at a time.

Run this lane alone with ``pytest -m hostile``; the walks are also marked ``slow``, so
``make test-fast`` leaves them out and ``make test`` (and CI) runs them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.apps import apps
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import models, transaction
from django.http import HttpResponse, QueryDict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.datastructures import MultiValueDict
from wagtail.admin.views.bulk_action.registry import bulk_action_registry

from messaging.models import NotificationPreference, Suppression
from messaging.preferences import tokens
from tests.factories import make_receiver, make_template

pytestmark = [pytest.mark.django_db, pytest.mark.hostile]

APP = "messaging"
GARBAGE = [
    "99999999999999999999",  # beyond 64 bits: SQLite cannot bind it
    "-1",
    "\x00",  # PostgreSQL refuses it in text
    "abc",  # not an id
    "",
    "x" * 10_000,
    "2024-13-45",  # not a date
]
CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


@dataclass(frozen=True)
class Route:
    """One URL pattern of the app."""

    text: str  # "admin/messaging/receivers/inspect/<int:pk>/"
    pattern: URLPattern
    namespace: str

    @property
    def is_regex(self) -> bool:
        """A regular expression (the Django admin's app index), not a route."""
        return "^" in self.text

    @property
    def params(self) -> list[str]:
        if self.is_regex:
            return list(self.pattern.pattern.regex.groupindex)
        return CONVERTER.findall(self.text)

    @property
    def model(self) -> type[models.Model] | None:
        """The model the view shows (Wagtail's view argument, or the ModelAdmin's)."""
        callback = self.pattern.callback
        if hasattr(callback, "model_admin"):
            return callback.model_admin.model
        return getattr(callback, "view_initkwargs", {}).get("model")

    def path(self, values: dict[str, str]) -> str:
        if self.is_regex:
            return reverse(f"{self.namespace}{self.pattern.name}", kwargs=values)
        return "/" + CONVERTER.sub(lambda found: quote(values[found.group(1)], safe=""), self.text)


def walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        else:
            yield Route(prefix + str(pattern.pattern), pattern, namespace)


def app_routes() -> list:
    return [
        pytest.param(route, id=route.text)
        for route in walk(get_resolver().url_patterns)
        if APP in route.text
    ]


def bulk_actions() -> list:
    """Every Wagtail bulk action registered for one of the app's models."""
    return [
        pytest.param(
            reverse("wagtail_bulk_action", args=(APP, model._meta.model_name, action.action_type)),
            model,
            id=f"{model._meta.model_name}-{action.action_type}",
        )
        for model in apps.get_app_config(APP).get_models()
        for action in bulk_action_registry.get_bulk_actions_for_model(APP, model._meta.model_name)
    ]


ROUTES = app_routes()


def test_the_walk_finds_every_kind_of_page():
    """A guard on the walk itself: it finds the pages of each kind the app ships."""
    found = {param.id for param in ROUTES}
    for expected in [
        "admin/messaging/receivers/",
        "admin/messaging/messages/inspect/<int:pk>/",
        "admin/snippets/messaging/messagetemplate/edit/<int:pk>/",
        "admin/snippets/choose/messaging/messagetemplate/chosen/<str:pk>/",
        "django-admin/messaging/messagereceiver/",
        "django-admin/messaging/message/<path:object_id>/change/",
        "messaging/preferences/",
        "messaging/unsubscribe/<str:token>/",
    ]:
        assert expected in found
    assert any("(?P<app_label>" in text for text in found)  # the Django admin's app index
    assert {param.id for param in bulk_actions()} >= {"messagereceiver-resend"}


@pytest.fixture
def rows(admin_user) -> None:
    """A row of every model the app's pages show."""
    make_template()
    make_receiver(status="failed", sending_failed_count=1)
    Suppression.objects.create(address="gone@example.org", reason="bounce")
    NotificationPreference.objects.create(user=admin_user, context_type="comment_added")


@pytest.fixture
def superuser_client(admin_user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    return client


def real_value(param: str, model: type[models.Model] | None, admin_user) -> str:
    """A path value that names a row, so that the page itself is reached."""
    if param == "token":
        return tokens.make_token(admin_user.pk, "comment_added")
    if param == "app_label":
        return APP
    row = model.objects.order_by("pk").first() if model is not None else None
    return str(row.pk) if row is not None else "1"


class ServerError(Exception):
    """A 500, raised to roll back what the request did to the test's transaction."""


def send(client: Client, url: str, data: dict | None = None) -> HttpResponse:
    """GET ``url`` (POST ``data`` when given); :class:`ServerError` for a 500.

    Each request runs in a savepoint: on PostgreSQL a failed query leaves the test's
    transaction unusable, and every later request would fail because of it.
    """
    with transaction.atomic():
        response = client.get(url) if data is None else client.post(url, data)
        if response.status_code >= 500:
            method = "GET" if data is None else f"POST {data}"
            raise ServerError(f"{response.status_code} {method} {url[:200]}"[:300])
    return response


@contextmanager
def params_recorded() -> Iterator[set[str]]:
    """The names of the query and form parameters read while the block runs."""
    names: set[str] = set()
    read_by = ("__getitem__", "__contains__", "get", "getlist")
    originals = {name: getattr(MultiValueDict, name) for name in read_by}

    def recording(method):
        def read(self, key, *args, **kwargs):
            if isinstance(self, QueryDict):
                names.add(key)
            return method(self, key, *args, **kwargs)

        return read

    for name, method in originals.items():
        setattr(MultiValueDict, name, recording(method))
    try:
        yield names
    finally:
        for name, method in originals.items():
            setattr(MultiValueDict, name, method)


def changelist_params(changelist: Any) -> list[str]:
    """What a Django admin listing reads besides the names it asks for: every parameter
    is a filter, by its list filters, its date drill-down or any field of the model.

    Of the fields, one of each class is tried (a value is checked by its field's class),
    by its name and with ``__in``.
    """
    names = [name for spec in changelist.filter_specs for name in spec.expected_parameters()]
    if changelist.date_hierarchy:
        names += [f"{changelist.date_hierarchy}__{part}" for part in ("year", "month", "day")]
    one_of_each = {type(field): field for field in changelist.model._meta.get_fields()}
    for field in one_of_each.values():
        names += [field.name, f"{field.name}__in"]
    return names


class Walker:
    """Sends garbage to the pages of one test; collects the 500s."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.failures: list[str] = []

    def send(self, url: str, data: dict | None = None) -> None:
        try:
            send(self.client, url, data)
        except ServerError as error:
            self.failures.append(str(error))

    def page(self, path: str) -> None:
        """Each parameter ``path`` reads, with each garbage value, one at a time; a Django
        admin listing's actions, on garbage ids."""
        with params_recorded() as names:
            response = send(self.client, path)
        context = response.context or {}
        changelist = context.get("cl")
        if changelist is not None:
            names |= set(changelist_params(changelist))
        separator = "&" if "?" in path else "?"
        for name in sorted(names):
            for value in GARBAGE:
                self.send(path + separator + urlencode({name: value}))
        if action_form := context.get("action_form"):
            self.actions(path, [name for name, _label in action_form.fields["action"].choices])

    def actions(self, path: str, actions: list[str]) -> None:
        for action in filter(None, actions):
            for value in GARBAGE:
                self.send(path, {"action": action, ACTION_CHECKBOX_NAME: value, "index": "0"})


@pytest.mark.slow  # about half a minute in all: out of make test-fast, in make test
@pytest.mark.parametrize("route", ROUTES)
def test_no_url_of_the_app_answers_garbage_with_a_500(route, rows, superuser_client, admin_user):
    real = {param: real_value(param, route.model, admin_user) for param in route.params}
    walker = Walker(superuser_client)
    for param in [] if route.is_regex else route.params:  # a regex takes only its names
        for value in GARBAGE:
            walker.send(route.path({**real, param: value}))
    walker.page(route.path(real))
    assert not walker.failures, "\n".join(walker.failures)


@pytest.mark.slow
@pytest.mark.parametrize("url, model", bulk_actions())
def test_no_bulk_action_answers_garbage_with_a_500(url, model, rows, superuser_client):
    walker = Walker(superuser_client)
    for selection in [f"id={model.objects.order_by('pk').first().pk}", "id=all"]:
        walker.page(f"{url}?{selection}")
    assert not walker.failures, "\n".join(walker.failures)
