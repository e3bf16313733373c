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

from ... import rendering, users
from ...api import send_message
from ...bounces import suppression
from ...delivery.recipients import check_sending_enabled
from ...exceptions import SendingDisabledError
from ...models import MessageTemplate, NotificationPreference
from ...preferences.modes import modes_of
from .. import links


def refusal(user, template: MessageTemplate) -> str | None:
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


class SendTestView(View):
    """POST only: send the latest draft, once per language, to the editor's addresses."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        template = get_object_or_404(MessageTemplate, pk=pk)
        edit_url = links.template(template.pk)
        policy = MessageTemplate.snippet_viewset.permission_policy
        if not policy.user_has_permission_for_instance(request.user, "change", template):
            messages.error(request, _("You may not edit this template, so you cannot test it."))
            return HttpResponseRedirect(edit_url)
        revision = template.get_latest_revision()
        draft = revision.as_object() if revision else None
        problem: str | None
        if revision is None or draft is None:
            problem = _("Save the template first: a test sends its latest saved version.")
        else:
            problem = refusal(request.user, draft)
        if problem or revision is None or draft is None:
            messages.error(request, problem)
            return HttpResponseRedirect(edit_url)
        for code, _name in settings.LANGUAGES:
            send_message(
                revision,
                users=[request.user],
                context=rendering.sample_context(draft.context_type),
                created_by=request.user,
                metadata={"test": True},
                language=code,
            )
        messages.success(
            request,
            _("A test of revision %(revision)d was sent to %(addresses)s in %(languages)s.")
            % {
                "revision": revision.pk,
                "addresses": ", ".join(users.user_emails(request.user)),
                "languages": ", ".join(str(name) for _code, name in settings.LANGUAGES),
            },
        )
        return HttpResponseRedirect(edit_url)
