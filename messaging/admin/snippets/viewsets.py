"""The editors' view of message templates: one tab per language of the site."""

from __future__ import annotations

from django.conf import settings
from django.urls import path
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from modeltranslation.settings import DEFAULT_LANGUAGE
from modeltranslation.utils import build_localized_fieldname
from wagtail.admin import messages
from wagtail.admin.panels import (
    FieldPanel,
    HelpPanel,
    ObjectList,
    PublishingPanel,
    TabbedInterface,
)
from wagtail.admin.ui.tables import DateColumn, LiveStatusTagColumn, UsageCountColumn
from wagtail.snippets.views.snippets import SnippetViewSet

from ...models import MessageTemplate
from .. import links
from ..columns import shown_from
from .chooser import TemplateChooserViewSet
from .panels import VariablesPanel
from .testsend import SendTestView
from .variables import TRANSLATED_FIELDS, unknown_variables_warning
from .views import (
    IncompleteLanguagesColumn,
    TemplateDeleteView,
    TemplateEditView,
    TemplateIndexView,
    TemplateUsageView,
)


def language_tab(code: str, name: str) -> ObjectList:
    """One language's subject and texts; other languages than the default may be left empty."""
    fields = [FieldPanel(build_localized_fieldname(field, code)) for field in TRANSLATED_FIELDS]
    if code != DEFAULT_LANGUAGE:
        default_name = dict(settings.LANGUAGES).get(DEFAULT_LANGUAGE, DEFAULT_LANGUAGE)
        note = format_lazy(_("Optional. Fields left empty use the {} text."), default_name)
        fields.insert(0, HelpPanel(note))
    return ObjectList(fields, heading=name)


def build_edit_handler() -> TabbedInterface:
    """The General tab (name, key, context type, variables), then one tab per language.

    Wagtail compares revisions field by field through these panels, so every language's
    fields are in it. The publishing panel is the "schedule publishing" dialog.
    """
    general = ObjectList(
        [
            FieldPanel("name"),
            FieldPanel("key"),
            FieldPanel("context_type"),
            VariablesPanel(
                template="messaging/snippets/variables_panel.html", heading=_("Variables")
            ),
            PublishingPanel(),
        ],
        heading=_("General"),
    )
    return TabbedInterface([general, *(language_tab(c, n) for c, n in settings.LANGUAGES)])


class MessageTemplateViewSet(SnippetViewSet):
    model = MessageTemplate
    url_namespace = links.TEMPLATES
    icon = "mail"
    menu_label = _("Message templates")
    index_view_class = TemplateIndexView
    edit_view_class = TemplateEditView
    usage_view_class = TemplateUsageView
    delete_view_class = TemplateDeleteView
    list_display = [
        "name",
        "key",
        "context_type",
        LiveStatusTagColumn(),
        UsageCountColumn("usage_count", label=_("Messages"), sort_key="usage_count"),
        shown_from("lg", DateColumn("last_used", label=_("Last used"), sort_key="last_used")),
        IncompleteLanguagesColumn("incomplete", label=_("Incomplete languages")),
    ]
    search_fields = ["name", "key"]
    chooser_viewset_class = TemplateChooserViewSet

    def get_edit_handler(self):
        return build_edit_handler().bind_to_model(self.model)

    def get_urlpatterns(self) -> list:
        return [
            *super().get_urlpatterns(),
            path("send_test/<int:pk>/", SendTestView.as_view(), name="send_test"),
        ]


def warn_about_unknown_variables(request, instance) -> None:
    """After a template is saved, name the variables its context type does not offer.

    For the ``after_create_snippet`` and ``after_edit_snippet`` hooks.
    """
    if isinstance(instance, MessageTemplate):
        languages = [code for code, _name in settings.LANGUAGES]
        if warning := unknown_variables_warning(instance, languages):
            messages.warning(request, warning)
