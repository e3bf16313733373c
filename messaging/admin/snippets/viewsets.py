"""The editors' view of message templates: one tab per language of the site."""

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from modeltranslation.settings import DEFAULT_LANGUAGE
from modeltranslation.utils import build_localized_fieldname
from wagtail.admin.panels import FieldPanel, HelpPanel, ObjectList, TabbedInterface
from wagtail.snippets.views.snippets import SnippetViewSet

from ... import conf
from ...models import MessageTemplate
from ...rendering import sample_user
from .variables import unknown_variables_warning


def sample_text(value: object) -> str:
    """A sample value as an editor reads it: ``{"part": "A"}`` as ``part: A``."""
    if isinstance(value, dict):
        return ", ".join(f"{key}: {sample_text(item)}" for key, item in value.items())
    return str(value)


def variable_row(context_type: str, name: str, sample: object) -> dict:
    """One row of the variables table; a list's items are shown as a list."""
    items = [sample_text(item) for item in sample] if isinstance(sample, (list, tuple)) else None
    return {
        "context_type": context_type,
        "name": name,
        "sample": sample_text(sample),
        "items": items,
    }


def context_variables() -> list[tuple[str, str, list[dict]]]:
    """For the help panel: each context type with its variables and sample values.

    The first group (context type ``""``) is offered by every context type.
    """
    user = [variable_row("", f"user.{name}", value) for name, value in sample_user("en").items()]
    variables = conf.context_variables()
    return [
        ("", str(_("Every context type")), user),
        *(
            (value, str(label), [variable_row(value, *item) for item in variables[value].items()])
            for value, label in conf.context_types()
            if variables.get(value)
        ),
    ]


class VariablesPanel(HelpPanel):
    """The variables of the selected context type, with sample values.

    Every context type's rows are in the page; a small script shows those of the type
    chosen in the form. Unknown variables of the saved template are named above them.
    """

    class BoundPanel(HelpPanel.BoundPanel):
        class Media:
            js = ["messaging/admin/variables-panel.js"]

        def selected_context_type(self) -> str:
            if self.form is not None and "context_type" in self.form.fields:
                return str(self.form["context_type"].value() or "")
            return getattr(self.instance, "context_type", "") or ""

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            context["context_variables"] = context_variables()
            context["selected_context_type"] = self.selected_context_type()
            if getattr(self.instance, "pk", None):
                languages = [code for code, _name in settings.LANGUAGES]
                context["unknown_warning"] = unknown_variables_warning(self.instance, languages)
            return context


def language_tab(code: str, name) -> ObjectList:
    fields = [
        FieldPanel(build_localized_fieldname(field, code))
        for field in ("subject", "body", "body_text")
    ]
    if code != DEFAULT_LANGUAGE:
        default_name = dict(settings.LANGUAGES).get(DEFAULT_LANGUAGE, DEFAULT_LANGUAGE)
        note = format_lazy(_("Optional. Fields left empty use the {} text."), default_name)
        fields.insert(0, HelpPanel(note))
    return ObjectList(fields, heading=name)


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
