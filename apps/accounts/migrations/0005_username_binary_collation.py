"""``user.username`` compared byte for byte (utf8mb4_bin on MySQL/MariaDB; SQLite already is), issue 18.

Uniqueness of a login name is ``username_key``'s (casefold of NFKC, binary). Under the table's default
``utf8mb4_unicode_ci`` the UNIQUE index of ``username`` added a second rule on MariaDB only, ignoring accents and
kana: ``ålice`` could not be created beside ``alice``, nor ``ハナ`` beside ``はな``, while SQLite accepted both.
A binary collation is stricter than the old one, so existing rows cannot collide.
"""
from __future__ import annotations

from django.db import migrations

import apps.accounts.models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0004_user_username_key"),
    ]

    operations = [
        migrations.AlterField(
            model_name="user",
            name="username",
            field=apps.accounts.models.BinaryCharField(max_length=50, unique=True),
        ),
    ]
