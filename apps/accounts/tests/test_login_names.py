"""Login names (issue 16, finding 5): usernames are stored NFKC-normalised; login looks users up by
``username_key`` = casefold(NFKC(name)) under a binary collation, on both backends; the lockout is keyed by the
same ``username_key`` whether the user exists or not.

On MariaDB the probe locked ``admin`` and then logged in as ``ådmin`` with the right password: the lockout key
was ``username.lower()`` but the lookup ran under ``utf8mb4_unicode_ci``, which ignores accents, so every
accent variant was a fresh set of five tries at the same account.
"""
from __future__ import annotations

import unicodedata
from dataclasses import replace

import pytest
from django.core.management.base import CommandError

from apps.accounts.models import User
from conftest import Api
from tests.factories import DEFAULT_PASSWORD


def login(username: str, password: str = DEFAULT_PASSWORD, **extra):
    return Api().post("auth/login", {"username": username, "password": password}, **extra)


@pytest.fixture
def three_failures(settings):
    settings.DJS_AUTH = replace(settings.DJS_AUTH, login_max_failures=3)


def test_an_accent_variant_of_a_locked_name_does_not_log_in(org, three_failures):
    user = org.member(org.a, username="alice")
    for _ in range(3):
        login("alice", "wrong-password").expect(4010)
    login("alice").expect(4029)
    for variant in ("ålice", "alicé", "ａｌｉｃｅ", "ALICE", "Alice"):
        reply = login(variant)
        # Either the same locked account (case and compatibility forms fold to the same key) or nobody:
        # never a session for alice while alice is locked.
        assert reply.code in (4029, 4010), (variant, reply)
        if variant in ("ålice", "alicé"):
            assert reply.message == "invalid username or password", variant
        else:
            assert reply.code == 4029, variant
    assert User.objects.get(pk=user.pk).username == "alice"


def test_accent_variants_do_not_get_fresh_tries_at_the_account(org, three_failures):
    org.member(org.a, username="alice")
    for variant in ("ålice", "älice", "alíce"):
        for _ in range(3):
            login(variant, DEFAULT_PASSWORD).expect(4010)  # the right password: still nobody
    login("alice").expect(0)  # and the real account was never locked by them


def test_login_ignores_case_and_compatibility_forms(org):
    org.member(org.a, username="bob.smith")
    for variant in ("BOB.SMITH", "Bob.Smith", "ｂｏｂ.ｓｍｉｔｈ"):
        assert login(variant).expect(0).data["user"]["username"] == "bob.smith"


def test_the_lockout_of_an_unknown_name_looks_like_that_of_a_real_one(org, three_failures, clock):
    org.member(org.a, username="carol")
    for name in ("carol", "nobody-here"):
        for _ in range(3):
            login(name, "wrong-password").expect(4010)
    real, unknown = login("carol").expect(4029), login("NOBODY-HERE").expect(4029)
    assert real.message == unknown.message
    assert real.response["Retry-After"] == unknown.response["Retry-After"]


def test_usernames_are_stored_nfkc_normalised_and_unique_by_folded_key(org):
    admin = Api(org.admin)
    role = org.member(org.a, {"task:view"}).role_id
    body = {"password": "Correct-horse-9", "realName": "Dee", "departmentId": org.a.pk, "roleId": role, "status": 1}
    created = admin.post("users", {**body, "username": "ｄｅｅ.ｄｅｅ"}).expect(0).data
    assert created["username"] == "dee.dee"
    assert User.objects.get(pk=created["id"]).username_key == "dee.dee"
    for taken in ("DEE.DEE", "Dee.Dee", "ｄｅｅ.ｄｅｅ"):
        assert admin.post("users", {**body, "username": taken}).expect(4009).message == \
            f"username '{unicodedata.normalize('NFKC', taken)}' already exists"
    other = admin.post("users", {**body, "username": "eve.other"}).expect(0).data
    admin.put(f"users/{other['id']}", {**body, "username": "DEE.dee"}).expect(4009)
    assert User.objects.filter(username_key="dee.dee").count() == 1


def test_username_key_folds_case_and_compatibility_forms_but_not_accents():
    from apps.accounts.models import username_key

    assert username_key("ＡＤＭＩＮ") == username_key("Admin") == "admin"
    assert username_key("Straße") == "strasse"
    assert username_key("ådmin") != username_key("admin")


def test_the_migration_refuses_names_that_fold_to_the_same_key_and_names_them():
    from importlib import import_module

    migration = import_module("apps.accounts.migrations.0004_user_username_key")
    migration.refuse_collisions([(1, "admin"), (2, "bob"), (3, "carol")])  # no collision: nothing to say
    with pytest.raises(CommandError) as info:
        migration.refuse_collisions([(1, "admin"), (2, "bob"), (7, "ADMIN"), (9, "ａｄｍｉｎ")])
    message = str(info.value)
    assert "user 1 'admin', user 7 'ADMIN', user 9 'ａｄｍｉｎ'" in message and "bob" not in message
