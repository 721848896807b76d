"""``user.username_key`` = casefold(NFKC(username)), unique under a binary collation; usernames stored NFKC
(issue 16, finding 5).

Existing names that fold to the same key (``Admin`` and ``admin``, ``ａｄｍｉｎ`` and ``admin``) cannot both keep
their accounts: login could not tell them apart. The migration then stops before changing anything, naming every
such group; rename all but one of each (``UPDATE user SET username = '...' WHERE id = N``) and run ``migrate``
again. The check runs before the column is added, so a refused run leaves the schema as it was (MariaDB cannot
roll DDL back).
"""
from __future__ import annotations

import unicodedata
from collections import defaultdict

from django.core.management.base import CommandError
from django.db import migrations

import apps.accounts.models


def _normalize(name: str) -> str:
    return unicodedata.normalize("NFKC", name)


def _key(name: str) -> str:  # apps.accounts.models.username_key, frozen here as migrations must be
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def refuse_collisions(rows: list[tuple[int, str]]) -> None:
    """Raise a :class:`CommandError` naming every group of users whose names fold to one key."""
    groups: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for pk, username in rows:
        groups[_key(username)].append((pk, username))
    clashes = [sorted(group) for group in groups.values() if len(group) > 1]
    if clashes:
        listing = "; ".join(", ".join(f"user {pk} '{name}'" for pk, name in group) for group in sorted(clashes))
        raise CommandError(
            "these usernames are one login name once case and Unicode compatibility forms are folded, so login "
            f"could not tell them apart: {listing}. Rename all but one of each group "
            "(UPDATE user SET username = '...' WHERE id = N) and run migrate again; nothing was changed.")


def check_collisions(apps, schema_editor) -> None:
    User = apps.get_model("accounts", "User")
    refuse_collisions(list(User.objects.values_list("pk", "username")))


def fill_username_keys(apps, schema_editor) -> None:
    User = apps.get_model("accounts", "User")
    for user in User.objects.only("pk", "username").iterator():
        normalized = _normalize(user.username)
        User.objects.filter(pk=user.pk).update(username=normalized, username_key=_key(normalized))


def binary_collation(apps, schema_editor) -> None:
    """MySQL/MariaDB: Django's ``MODIFY ... NOT NULL`` above dropped the column's collation; put utf8mb4_bin back,
    so ``ådmin`` never matches ``admin`` (the default utf8mb4_unicode_ci ignores accents)."""
    if schema_editor.connection.vendor == "mysql":
        schema_editor.execute("ALTER TABLE `user` MODIFY `username_key` varchar(150) CHARACTER SET utf8mb4 "
                              "COLLATE utf8mb4_bin NOT NULL")


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0003_token_state"),
    ]

    operations = [
        migrations.RunPython(check_collisions, migrations.RunPython.noop, elidable=True),
        migrations.AddField(
            model_name="user",
            name="username_key",
            field=apps.accounts.models.BinaryCharField(max_length=150, null=True),
        ),
        migrations.RunPython(fill_username_keys, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="user",
            name="username_key",
            field=apps.accounts.models.BinaryCharField(max_length=150, unique=True),
        ),
        migrations.RunPython(binary_collation, migrations.RunPython.noop, atomic=False),
    ]
