"""The message templates' chooser: Wagtail's, with ids that cannot be ids refused."""

from __future__ import annotations

from django.db.models import Model, QuerySet
from wagtail.snippets.views.chooser import (
    SnippetChooserViewSet,
    SnippetChosenMultipleView,
    SnippetChosenView,
)

from ..filters import lookup_problem


class TemplateChosenView(SnippetChosenView):
    """The template chosen; a 404 for an id no row can have (Wagtail's 500 on ``abc``)."""

    def get_object(self, pk: str) -> Model:
        if lookup_problem(self.model_class, {"pk": [pk]}):
            raise self.model_class.DoesNotExist(f"No template can have the id {pk!r}.")
        return super().get_object(pk)


class TemplateChosenMultipleView(SnippetChosenMultipleView):
    """The templates chosen; none when an id is one no row can have."""

    def get_objects(self, pks: list[str]) -> QuerySet:
        if lookup_problem(self.model_class, {"pk": list(pks)}):
            return self.model_class.objects.none()
        return super().get_objects(pks)


class TemplateChooserViewSet(SnippetChooserViewSet):
    chosen_view_class = TemplateChosenView
    chosen_multiple_view_class = TemplateChosenMultipleView
