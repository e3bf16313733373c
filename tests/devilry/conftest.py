"""Users of the original product's shape: addresses in UserEmail, names in fullname."""

import pytest
from django.contrib.auth import get_user_model

from tests.devilry_account.models import UserEmail


@pytest.fixture
def devilry_user(db):
    def make(shortname: str, fullname: str = "", languagecode: str = "", emails=(), **extra):
        """``emails`` holds addresses, or ``(address, use_for_notifications)`` pairs."""
        user = get_user_model().objects.create_user(
            shortname, "pw", fullname=fullname, languagecode=languagecode, **extra
        )
        for item in emails:
            address, notify = (item, True) if isinstance(item, str) else item
            UserEmail.objects.create(user=user, email=address, use_for_notifications=notify)
        return user

    return make
