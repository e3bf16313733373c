"""Message templates: what editors write in the Wagtail admin, per language."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from wagtail.fields import RichTextField
from wagtail.models import (
    DraftStateMixin,
    LockableMixin,
    PreviewableMixin,
    Revision,
    RevisionMixin,
    WorkflowMixin,
)

from .. import conf
from ..exceptions import TemplateNotFoundError
from ..rendering import BODY_FEATURES, render_preview, validate_template


def default_message_type() -> list[str]:
    return ["email"]


class MessageTemplate(
    WorkflowMixin,
    DraftStateMixin,
    LockableMixin,
    RevisionMixin,
    PreviewableMixin,
    models.Model,
):
    """An email written by editors, in every language of the site.

    ``subject``, ``body`` and ``body_text`` are translated with django-modeltranslation
    (``subject_en``, ``subject_nb``, ...). Application code refers to a template by ``key``.
    ``full_clean()`` refuses text that the restricted template engine would not render.

    Editors save drafts (revisions) and publish them, through a workflow when the site
    attaches one; only the published revision is sent (``live_revision``).
    """

    key = models.SlugField(
        _("key"),
        max_length=100,
        unique=True,
        help_text=_("What application code uses to send this template, e.g. 'deadline-moved'."),
    )
    name = models.CharField(_("name"), max_length=255)
    context_type = models.CharField(
        _("context type"), max_length=255, default="other", choices=conf.context_types
    )
    subject = models.CharField(_("subject"), max_length=255)
    body = RichTextField(_("body"), features=list(BODY_FEATURES))
    body_text = models.TextField(
        _("plain-text body"),
        blank=True,
        help_text=_("Optional. When empty, the plain text is made from the body."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        validate_template(self)

    def live_version(self) -> tuple[MessageTemplate, Revision]:
        """What is sent: the last published revision, as a template, and that revision.

        Every language's fields come from the revision; drafts saved since change
        nothing. Raises :class:`TemplateNotFoundError` when the template has no
        published version (never published, unpublished, or only scheduled).
        """
        revision = self.live_revision if self.live else None
        if revision is None:
            raise TemplateNotFoundError(
                f"The message template {self.key!r} has no published version, so it cannot "
                "be sent. Publish it under Messaging > Message templates (or, in code, "
                "template.save_revision().publish())."
            )
        return revision.as_object(), revision

    @property
    def preview_modes(self) -> list[tuple[str, str]]:
        return [(code, str(name)) for code, name in settings.LANGUAGES]

    def serve_preview(self, request, mode_name: str) -> HttpResponse:
        """The email in language ``mode_name`` with the context type's sample values."""
        return HttpResponse(render_preview(self, mode_name))


# A message younger than this is never taken for one whose receivers were deleted.
