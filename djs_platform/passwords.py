"""Password policy additions to Django's validators."""
from __future__ import annotations

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class NotBlankPasswordValidator:
    """Sixteen spaces satisfy the length rule but are no password."""

    def validate(self, password: str, user=None) -> None:  # noqa: ARG002 - Django's signature
        if not password.strip():
            raise ValidationError(_("password cannot be only whitespace"), code="password_blank")

    def get_help_text(self) -> str:
        return _("Your password cannot consist of whitespace only.")


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    """Django's length rule with its message from DJS's catalog: Django 5.2 reworded the sentence and its zh_Hans
    catalog still translates only the old wording, so Chinese readers would get it in English (docs/i18n.md)."""

    def get_error_message(self) -> str:
        return ngettext(
            "This password is too short. It must contain at least %d character.",
            "This password is too short. It must contain at least %d characters.",
            self.min_length,
        ) % self.min_length
