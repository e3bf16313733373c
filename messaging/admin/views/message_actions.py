"""Staff stop (or cancel), resume and reschedule a message: a confirmation page each, then
the action (:mod:`messaging.control`), logged with who did it (Wagtail log entries)."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView
from wagtail.admin import messages
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.widgets import AdminDateTimeInput
from wagtail.log_actions import log

from ... import control
from ...exceptions import MessagingError
from ...models import Message
from .. import links
from ..permissions import STOP, can, refuse

Status = Message.Status


class RescheduleForm(forms.Form):
    send_at = forms.DateTimeField(label=_("New time"), widget=AdminDateTimeInput)


class MessageActionView(WagtailAdminTemplateMixin, FormView):
    """GET confirms, POST acts; only for holders of ``messaging.stop_message`` and only
    when the message's status allows the action."""

    template_name = "messaging/admin/messages/confirm_action.html"
    header_icon = "list-ul"
    form_class = forms.Form
    allowed: tuple[str, ...] = ()
    button = _("Yes")

    def dispatch(self, request: HttpRequest, *args, pk: int, **kwargs) -> HttpResponseBase:
        self.object = get_object_or_404(Message, pk=pk)
        back_to = links.message(pk)
        if not can(request.user, STOP):
            return refuse(request, STOP, back_to)
        if self.object.status not in self.allowed:
            messages.error(request, self.not_allowed())
            return HttpResponseRedirect(back_to)
        return super().dispatch(request, *args, pk=pk, **kwargs)

    def not_allowed(self) -> str:
        return gettext("This message is %(status)s: that cannot be done now.") % {
            "status": self.object.get_status_display().lower()
        }

    def get_page_subtitle(self) -> str:
        return str(self.object)

    def get_context_data(self, **kwargs) -> dict:
        return {
            **super().get_context_data(**kwargs),
            "object": self.object,
            "question": self.question(),
            "button": self.button,
            "back_url": links.message(self.object.pk),
        }

    def form_valid(self, form: forms.Form) -> HttpResponse:
        try:
            done, action = self.act(form)
        except MessagingError as error:
            messages.error(self.request, str(error))
            return self.form_invalid(form)
        log(instance=self.object, action=action, user=self.request.user, data=done)
        messages.success(self.request, self.success(done))
        return HttpResponseRedirect(links.message(self.object.pk))

    def question(self) -> str:
        raise NotImplementedError

    def act(self, form: forms.Form) -> tuple[dict, str]:
        """Do the action; returns what it did (stored with the log entry) and its name."""
        raise NotImplementedError

    def success(self, done: dict) -> str:
        raise NotImplementedError


class StopView(MessageActionView):
    """Stop a message being sent, or cancel a scheduled one."""

    allowed = control.STOPPABLE

    def get_page_title(self) -> str:
        if self.object.status == Status.SCHEDULED:
            return gettext("Cancel scheduled message")
        return gettext("Stop sending")

    def question(self) -> str:
        return gettext(
            "Its emails not sent yet are cancelled: nothing more of it goes out. Emails "
            "already sent stay sent; a worker sending it stops at its next email. Resume "
            "sends the cancelled emails later. Go on?"
        )

    def act(self, form: forms.Form) -> tuple[dict, str]:
        scheduled = self.object.status == Status.SCHEDULED
        cancelled = control.stop(self.object)
        return {"cancelled": cancelled}, "messaging.cancel" if scheduled else "messaging.stop"

    def success(self, done: dict) -> str:
        return ngettext(
            "Stopped: %(count)d email was cancelled.",
            "Stopped: %(count)d emails were cancelled.",
            done["cancelled"],
        ) % {"count": done["cancelled"]}


class ResumeView(MessageActionView):
    allowed = (Status.CANCELLED,)

    def get_page_title(self) -> str:
        return gettext("Resume sending")

    def question(self) -> str:
        return gettext(
            "Its cancelled emails are sent after all (those waiting for a daily digest "
            "wait for it again; those past the message's expiry time stay expired). Go on?"
        )

    def act(self, form: forms.Form) -> tuple[dict, str]:
        return {"resumed": control.resume(self.object)}, "messaging.resume"

    def success(self, done: dict) -> str:
        return ngettext(
            "Resumed: %(count)d email is on its way again.",
            "Resumed: %(count)d emails are on their way again.",
            done["resumed"],
        ) % {"count": done["resumed"]}


class RescheduleView(MessageActionView):
    allowed = (Status.SCHEDULED,)
    form_class = RescheduleForm
    button = _("Change the time")

    def get_page_title(self) -> str:
        return gettext("Change scheduled time")

    def get_initial(self) -> dict:
        return {"send_at": self.object.send_at}

    def question(self) -> str:
        return gettext("Nothing of this message is sent before the new time.")

    def act(self, form: forms.Form) -> tuple[dict, str]:
        previous = self.object.send_at
        control.reschedule(self.object, form.cleaned_data["send_at"])
        done = {"from": previous.isoformat() if previous else None}
        return {**done, "to": form.cleaned_data["send_at"].isoformat()}, "messaging.reschedule"

    def success(self, done: dict) -> str:
        when = date_format(timezone.localtime(self.object.send_at), "DATETIME_FORMAT")
        return gettext("The message is now scheduled for %(time)s.") % {"time": when}
