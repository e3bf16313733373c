"""The original product's user model, reduced to what matters here.

Like Devilry's ``devilry_account``: no ``email``, ``first_name`` or ``last_name``; a
``shortname`` to log in with, a ``fullname``, a ``languagecode``, and addresses in a
``UserEmail`` table of which those with ``use_for_notifications`` get notifications.
"""

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models


class UserManager(BaseUserManager):
    def create_user(self, shortname: str, password: str | None = None, **fields):
        user = self.model(shortname=shortname, **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, shortname: str, password: str | None = None, **fields):
        return self.create_user(shortname, password, is_superuser=True, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    shortname = models.CharField(max_length=255, unique=True)
    fullname = models.TextField(blank=True, default="")
    lastname = models.TextField(blank=True, default="")
    languagecode = models.CharField(max_length=10, blank=True, default="")
    is_active = models.BooleanField(default=True)

    USERNAME_FIELD = "shortname"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    @property
    def is_staff(self) -> bool:
        return self.is_superuser

    def get_full_name(self) -> str:
        return self.fullname or self.shortname

    def get_short_name(self) -> str:
        return self.shortname


class UserEmail(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    email = models.EmailField(unique=True)
    use_for_notifications = models.BooleanField(default=True)
    is_primary = models.BooleanField(null=True)

    def __str__(self) -> str:
        return self.email
