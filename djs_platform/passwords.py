"""Password policy additions to Django's validators."""
from __future__ import annotations

from django.core.exceptions import ValidationError


class NotBlankPasswordValidator:
    """Sixteen spaces satisfy the length rule but are no password."""

    def validate(self, password: str, user=None) -> None:  # noqa: ARG002 - Django's signature
        if not password.strip():
            raise ValidationError("password cannot be only whitespace", code="password_blank")

    def get_help_text(self) -> str:
        return "Your password cannot consist of whitespace only."
