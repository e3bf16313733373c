"""The editors' view of message templates: one tab per language of the site."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from modeltranslation.utils import build_localized_fieldname
from wagtail.admin.panels import FieldPanel, ObjectList, TabbedInterface
from wagtail.snippets.views.snippets import SnippetViewSet

from .models import MessageTemplate


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
        [FieldPanel("name"), FieldPanel("key"), FieldPanel("context_type")],
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
