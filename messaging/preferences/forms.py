"""The form a user changes their own preferences with: one choice per optional type."""

from __future__ import annotations

from typing import Any

from django import forms

from ..models import NotificationPreference
from . import modes


class PreferencesForm(forms.Form):
    """One radio choice (immediate, daily, off) per optional context type."""

    def __init__(self, user: Any, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.types = modes.optional_types()
        for spec in self.types:
            current = modes.modes_of([user.pk], spec.value)[user.pk]
            self.fields[spec.value] = forms.ChoiceField(
                label=spec.label,
                choices=NotificationPreference.Mode.choices,
                initial=current,
                widget=forms.RadioSelect,
            )

    def save(self) -> None:
        for spec in self.types:
            modes.set_mode(self.user, spec.value, self.cleaned_data[spec.value])
