"""Pages of a listing that may hold millions of rows, counted only up to a cap."""

from __future__ import annotations

from functools import cached_property

from django.utils.translation import gettext_lazy as _
from wagtail.admin.paginator import WagtailPaginator


class CappedPaginator(WagtailPaginator):
    """Counts at most ``cap`` rows, so a page of a million-row listing never counts them all."""

    cap = 10_000

    @cached_property
    def count(self) -> int:
        # Only the keys: the listing's annotations (the last error) stay out of the count.
        return self.object_list.order_by().values("pk")[: self.cap + 1].count()

    @cached_property
    def is_capped(self) -> bool:
        return self.count > self.cap

    @cached_property
    def items_count_label(self) -> str:
        if self.is_capped:
            return _("More than %(count)s %(name)s") % {
                "count": f"{self.cap:,}",
                "name": self.verbose_name_plural,
            }
        return super().items_count_label
