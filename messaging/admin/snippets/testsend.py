""" "Send me a test": the template's latest draft, in every language, to the editor.

The test goes through :func:`messaging.api.send_message` like any message, rendered with
the context type's sample values (those of the preview) and the editor as the user. It is
recorded as a message with ``metadata["test"]`` and left out of the dashboard's counts.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views import View
from wagtail.admin import messages
from wagtail.models import Revision

from ... import rendering, users
from ...api import send_message
from ...bounces import suppression
from ...delivery.recipients import check_sending_enabled
from ...exceptions import SendingDisabledError
from ...models import MessageTemplate, NotificationPreference
from ...preferences.modes import modes_of
from .. import links


def refusal(user, template: MessageTemplate, draft: MessageTemplate | None) -> str | None:
    """Why ``user`` may not test ``template`` now, or ``None`` when they may: they must be
    allowed to edit it, it must have a saved version (``draft``), and a test must be able
    to reach them."""
    policy = MessageTemplate.snippet_viewset.permission_policy
    if not policy.user_has_permission_for_instance(user, "change", template):
        return _("You may not edit this template, so you cannot test it.")
    if draft is None:
        return _("Save the template first: a test sends its latest saved version.")
    return unreachable(user, draft)


def unreachable(user, template: MessageTemplate) -> str | None:
    """Why a test of ``template`` cannot reach ``user`` now, or ``None`` when it can."""
    addresses = users.user_emails(user)
    if not addresses:
        return _(
            "Your account has no email address, so a test cannot be sent to you. Add one "
            "to your account (Account > Profile), then send the test again."
        )
    entries = suppression.lookup(addresses)
    if all(suppression.is_suppressed(address, entries) for address in addresses):
        return _(
            "Your address %(addresses)s is on the suppression list, so nothing is sent to "
            "it. Remove it under Messaging > Suppressed addresses (or ask staff to), then "
            "send the test again."
        ) % {"addresses": ", ".join(addresses)}
    mode = modes_of([user.pk], template.context_type)[user.pk]
    if mode != NotificationPreference.Mode.IMMEDIATE:
        return _(
            "Your notification preference for “%(type)s” is “%(mode)s”, so a test would "
            "not reach you now. Set it to immediate to receive tests."
        ) % {
            "type": template.get_context_type_display(),
            "mode": NotificationPreference.Mode(mode).label,
        }
    try:
        check_sending_enabled()
    except SendingDisabledError as error:
        return str(error)
    return None


def send_tests(user, revision: Revision, draft: MessageTemplate) -> None:
    """``revision`` to ``user``, once in each of the site's languages, rendered with the
    context type's sample values and recorded as a test (``metadata["test"]``)."""
    for code, _name in settings.LANGUAGES:
        send_message(
            revision,
            users=[user],
            context=rendering.sample_context(draft.context_type),
            created_by=user,
            metadata={"test": True},
            language=code,
        )


def sent(user, revision: Revision) -> str:
    """What the editor is told once :func:`send_tests` has sent ``revision``."""
    return _("A test of revision %(revision)d was sent to %(addresses)s in %(languages)s.") % {
        "revision": revision.pk,
        "addresses": ", ".join(users.user_emails(user)),
        "languages": ", ".join(str(name) for _code, name in settings.LANGUAGES),
    }


class SendTestView(View):
    """POST only: send the latest draft, once per language, to the editor's addresses."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        template = get_object_or_404(MessageTemplate, pk=pk)
        revision = template.get_latest_revision()
        draft = revision.as_object() if revision else None
        problem = refusal(request.user, template, draft)
        if problem or revision is None or draft is None:
            messages.error(request, problem)
        else:
            send_tests(request.user, revision, draft)
            messages.success(request, sent(request.user, revision))
        return HttpResponseRedirect(links.template(template.pk))
