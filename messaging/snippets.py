"""The editors' view of message templates: one tab per language of the site."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from modeltranslation.utils import build_localized_fieldname
from wagtail.admin.panels import FieldPanel, HelpPanel, ObjectList, TabbedInterface
from wagtail.snippets.views.snippets import SnippetViewSet

from . import conf
from .models import MessageTemplate
from .rendering import sample_user


def context_variables() -> list[tuple[str, str, list[tuple[str, object]]]]:
    """For the help panel: each context type with its variables and sample values."""
    user = [(f"user.{name}", value) for name, value in sample_user("en").items()]
    variables = conf.context_variables()
    return [
        ("", str(_("Every context type")), user),
        *(
            (value, str(label), list(variables[value].items()))
            for value, label in conf.context_types()
            if variables.get(value)
        ),
    ]


class VariablesPanel(HelpPanel):
    """Lists the variables each context type offers, with sample values."""

    class BoundPanel(HelpPanel.BoundPanel):
        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            context["context_variables"] = context_variables()
            return context


def language_tab(code: str, name) -> ObjectList:
    return ObjectList(
        [
            FieldPanel(build_localized_fieldname(field, code))
            for field in ("subject", "body", "body_text")
        ],
        heading=name,
    )


def build_edit_handler() -> TabbedInterface:
    general = ObjectList(
        [
            FieldPanel("name"),
            FieldPanel("key"),
            FieldPanel("context_type"),
            VariablesPanel(
                template="messaging/snippets/variables_panel.html", heading=_("Variables")
            ),
        ],
        heading=_("General"),
    )
    return TabbedInterface([general, *(language_tab(c, n) for c, n in settings.LANGUAGES)])


class MessageTemplateViewSet(SnippetViewSet):
    model = MessageTemplate
    icon = "mail"
    menu_label = _("Message templates")
    list_display = ["name", "key", "context_type"]
    search_fields = ["name", "key"]

    def get_edit_handler(self):
        return build_edit_handler().bind_to_model(self.model)
