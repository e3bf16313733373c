"""The editor's help beside a template: the variables its context type offers, with samples."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import HelpPanel

from ... import conf
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
