"""The search box of the receivers listing: every word in the subject, address or user."""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from ..users import user_search_fields

# A search matching more users than this filters receivers by a subquery instead of a list.
USER_IDS_INLINE_LIMIT = 1000
# More words than this are ignored: each word is one more indexed condition to combine.
MAX_SEARCH_WORDS = 8


def search_words(query: str) -> list[str]:
    """The distinct words of a search, in order, at most :data:`MAX_SEARCH_WORDS`."""
    words = dict.fromkeys(query.split())
    return list(words)[:MAX_SEARCH_WORDS]


def search_receivers(queryset: QuerySet, query: str) -> QuerySet:
    """Receivers where every word of ``query`` is in some searched field.

    The searched fields are the subject, the address, and the user fields of
    ``MESSAGING_USER_SEARCH_FIELDS`` (by default the names, username and email the user model
    has), so that "Ingrid Hansen" finds Ingrid Hansen and "deadline Assignment" the subject
    "Assignment 3 deadline".
    """
    for word in search_words(query):
        queryset = queryset.filter(word_condition(word))
    return queryset


def word_condition(word: str) -> Q:
    """Receivers with ``word`` in their subject, address, or a searched field of their user.

    Users are looked up first, in their own small table, so that the receivers are
    filtered by columns of their own table only: on PostgreSQL, the trigram indexes of
    migration 0002 and the ``user`` index answer each word, and the words' answers are
    combined (a bitmap AND) without reading every receiver.
    """
    users = (
        get_user_model()
        .objects.filter(
            reduce(or_, (Q(**{f"{name}__icontains": word}) for name in user_search_fields()))
        )
        .order_by()
        .values_list("pk", flat=True)
    )
    user_ids = list(users[: USER_IDS_INLINE_LIMIT + 1])
    in_users = users if len(user_ids) > USER_IDS_INLINE_LIMIT else user_ids
    return Q(subject__icontains=word) | Q(send_to__icontains=word) | Q(user_id__in=in_users)
