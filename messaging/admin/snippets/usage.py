"""What the editors see of a template's use: the messages sent from it, and its gaps.

Wagtail's reference index does not hold messages (they are records, never indexed), so a
template's usage is counted here: the messages whose ``template`` it is, editors' tests
left out. The listing, the usage page and the delete confirmation all read it from here.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, IntegerField, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from modeltranslation.utils import build_localized_fieldname

from ...models import Message, MessageTemplate

# Without these in a language, its emails fall back to the default language's text.
REQUIRED_FIELDS = ("subject", "body")


def messages_of(template: MessageTemplate) -> QuerySet:
    """The messages sent from ``template``, newest first (tests left out)."""
    return Message.objects.without_tests().filter(template=template.pk)


def usage_annotations() -> dict:
    """``usage_count`` and ``last_used`` of each template, for a listing that sorts by them.

    One subquery per template row, answered by the messages' template index.
    """
    used = (
        Message.objects.without_tests()
        .filter(template=OuterRef("pk"))
        .order_by()
        .values("template")
    )
    return {
        "usage_count": Coalesce(
            Subquery(used.annotate(n=Count("pk")).values("n")), 0, output_field=IntegerField()
        ),
        "last_used": Subquery(used.annotate(last=Max("created_datetime")).values("last")),
    }


def incomplete_languages(template: MessageTemplate) -> list[str]:
    """The names of the languages in which ``template`` has no subject or no body."""
    return [
        str(name)
        for code, name in settings.LANGUAGES
        if any(
            not (getattr(template, build_localized_fieldname(field, code), "") or "").strip()
            for field in REQUIRED_FIELDS
        )
    ]
