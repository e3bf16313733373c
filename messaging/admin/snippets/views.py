"""The message templates' snippet views, where they differ from Wagtail's.

- The listing shows, per template, how many messages were sent from it and when last,
  and the languages that lack a subject or a body.
- The edit page has a "Send me a test" button (see :mod:`.testsend`).
- The usage page lists the messages sent from the template; the edit page's status panel
  and the delete confirmation count them: Wagtail's reference index does not hold
  messages (see :mod:`.usage`).
"""

from __future__ import annotations

from functools import cached_property

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.admin.ui.tables import Column, DateColumn, TitleColumn, UserColumn
from wagtail.admin.widgets.button import HeaderButton
from wagtail.snippets.side_panels import SnippetStatusSidePanel
from wagtail.snippets.views import snippets

from .. import links
from .usage import incomplete_languages, messages_of, usage_annotations


class IncompleteLanguagesColumn(Column):
    """The languages whose emails fall back to the default language's subject or body."""

    def get_value(self, instance) -> str:
        return ", ".join(incomplete_languages(instance)) or "-"


class TemplateIndexView(snippets.IndexView):
    table_classname = "listing msg-listing"  # the app's column breakpoints apply

    def get_base_queryset(self):
        return super().get_base_queryset().annotate(**usage_annotations())

    def get_table(self, object_list):
        for template in object_list:
            template.usage_url = links.template(template.pk, "usage")
        return super().get_table(object_list)


class TemplateStatusSidePanel(SnippetStatusSidePanel):
    """Wagtail's status panel, whose "Used N times" counts the messages sent from the
    template."""

    def get_usage_context(self) -> dict:
        count = messages_of(self.object).count() if self.object.pk else 0
        return {"usage_count": count, "usage_url": self.usage_url}


class TemplateEditView(snippets.EditView):
    def get_side_panels(self):
        panels = super().get_side_panels()
        for panel in panels:
            if type(panel) is SnippetStatusSidePanel:
                # Wagtail builds its panel itself; ours differs only in what it counts.
                panel.__class__ = TemplateStatusSidePanel
        return panels

    @cached_property
    def header_buttons(self) -> list:
        """ "Send me a test" for editors who may change the template (it posts)."""
        if not self.user_has_permission_for_instance("change", self.object):
            return []
        return [
            HeaderButton(
                _("Send me a test"),
                icon_name="mail",
                attrs={
                    "data-controller": "w-action",
                    "data-action": "w-action#post",
                    "data-w-action-url-value": links.template(self.object.pk, "send_test"),
                },
            )
        ]


class TemplateUsageView(snippets.UsageView):
    """The messages sent from the template, newest first."""

    def get_queryset(self):
        return messages_of(self.object).select_related("created_by")

    @cached_property
    def columns(self) -> list:
        return [
            TitleColumn(
                "message",
                label=_("Message"),
                accessor=str,
                get_url=lambda message: links.message(message.pk),
            ),
            DateColumn("created_datetime", label=_("Sent")),
            UserColumn("created_by", label=_("Sent by")),
            Column("status", label=_("Status"), accessor="get_status_display"),
        ]

    def get_table(self, object_list):
        return self.table_class(self.columns, object_list, **self.get_table_kwargs())


class TemplateDeleteView(snippets.DeleteView):
    """Wagtail's confirmation, saying how many messages were sent from the template."""

    @cached_property
    def message_count(self) -> int:
        return messages_of(self.object).count()

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        if "usage_url" in context:
            context["usage_count"] = self.message_count
        return context

    @property
    def confirmation_message(self) -> str:
        kept = ngettext(
            "%(count)d message was sent from it. It keeps its emails, without the template.",
            "%(count)d messages were sent from it. They keep their emails, without the template.",
            self.message_count,
        ) % {"count": self.message_count}
        return f"{super().confirmation_message} {kept}"
