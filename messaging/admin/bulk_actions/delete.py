"""Wagtail's bulk delete of snippets, for message templates: garbage ids are a 400."""

from __future__ import annotations

from django.core.exceptions import BadRequest
from django.db.models import Model, QuerySet
from wagtail.snippets.bulk_actions.delete import DeleteBulkAction

from ...models import MessageTemplate
from ..filters import lookup_problem


class DeleteTemplatesBulkAction(DeleteBulkAction):
    """Replaces Wagtail's action for :class:`MessageTemplate` only (registered after it),
    whose ``?id=abc`` or ``?id=99999999999999999999`` fails with a 500."""

    models = [MessageTemplate]

    @classmethod
    def get_queryset(cls, model: type[Model], object_ids) -> list[Model]:
        # "Select all" gives a query of ids, which the database made itself.
        typed = not isinstance(object_ids, QuerySet)
        if typed and (problem := lookup_problem(model, {"pk": list(object_ids)})):
            raise BadRequest(problem)
        return super().get_queryset(model, object_ids)
