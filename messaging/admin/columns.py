"""Columns of the receivers and messages listings: Wagtail's columns, shaped for one-line rows."""

from __future__ import annotations

from django.conf import settings
from django.utils.text import Truncator
from wagtail.admin.ui.tables import Column, DateColumn, StatusTagColumn, TitleColumn, UserColumn

from . import formatting

# Characters of the newest error shown in a listing; the full text is in the tooltip.
ERROR_PREVIEW_CHARS = 80


class OneLineTitleColumn(TitleColumn):
    """A linked title kept on one line, ellipsized, with the whole text as its tooltip."""

    def __init__(self, name: str, **kwargs) -> None:
        kwargs.setdefault("classname", "msg-one-line")
        super().__init__(name, **kwargs)

    def get_link_attrs(self, instance, parent_context) -> dict:
        attrs = super().get_link_attrs(instance, parent_context)
        attrs["title"] = str(self.get_value(instance) or "")
        return attrs


class NoWrapDateColumn(DateColumn):
    """Wagtail's human-readable date, never broken over two lines."""

    def __init__(self, name: str, **kwargs) -> None:
        kwargs.setdefault("classname", "msg-nowrap")
        super().__init__(name, **kwargs)


class StatusColumn(StatusTagColumn):
    """Wagtail's status tag showing the status's label, coloured per status."""

    cell_template_name = "messaging/admin/status_cell.html"

    def __init__(self, name: str = "status", **kwargs) -> None:
        kwargs.setdefault("accessor", "get_status_display")
        kwargs.setdefault("classname", "msg-nowrap")
        super().__init__(name, **kwargs)

    def get_cell_context_data(self, instance, parent_context) -> dict:
        context = super().get_cell_context_data(instance, parent_context)
        context["status_classname"] = f"msg-status msg-status--{instance.status}"
        return context


class ReceiverUserColumn(UserColumn):
    """Wagtail's avatar and name, followed by the address the email went to."""

    cell_template_name = "messaging/admin/user_cell.html"

    def __init__(self, name: str = "user", **kwargs) -> None:
        kwargs.setdefault("classname", "msg-one-line")
        super().__init__(name, **kwargs)

    def get_cell_context_data(self, instance, parent_context) -> dict:
        context = super().get_cell_context_data(instance, parent_context)
        context["address"] = formatting.receiver_address(instance)
        return context


def language_name(code: str) -> str:
    """The site's name of a language code (``nb`` -> "Norwegian Bokmål"); unknown codes as is."""
    return str(dict(settings.LANGUAGES).get(code, code))


class LanguageColumn(Column):
    def __init__(self, name: str = "language", **kwargs) -> None:
        kwargs.setdefault("accessor", lambda receiver: language_name(receiver.language))
        kwargs.setdefault("classname", "msg-nowrap")
        super().__init__(name, **kwargs)


class LastErrorColumn(Column):
    """The newest error of a failed or error receiver, shortened; the whole text as tooltip.

    Reads the ``last_error`` annotation of ``MessageReceiver.objects.with_last_error()``.
    """

    cell_template_name = "messaging/admin/last_error_cell.html"

    def __init__(self, name: str = "last_error", **kwargs) -> None:
        kwargs.setdefault("classname", "msg-one-line msg-last-error")
        super().__init__(name, **kwargs)

    def get_cell_context_data(self, instance, parent_context) -> dict:
        context = super().get_cell_context_data(instance, parent_context)
        full = str(context["raw_value"] or "")
        context["full_text"] = full
        context["value"] = Truncator(full).chars(ERROR_PREVIEW_CHARS)
        return context
