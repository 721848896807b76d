"""Usernames in any script (issue 18, item 5; DESIGN §14.4).

``POST /v1/users`` with ``张三`` was refused by ``^[A-Za-z0-9_.@-]{3,50}$``. The one rule now
(:func:`apps.accounts.models.username_problem`), applied by the REST serializer, the user services (whatever
calls them) and ``bootstrap``: 2–50 characters of Unicode letters and digits and ``_ . @ -``, counted on the
NFKC form, which is what is stored; unique by ``username_key`` (casefold of NFKC) on both backends.
"""
from __future__ import annotations

from dataclasses import replace
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts import services
from apps.accounts.models import AuditLog, User, username_key, username_problem
from conftest import Api
from djs_platform import errors
from djs_platform.actor import Actor
from rpc.generated import auth_pb2
from rpc.tests.conftest import channel, rpc, rpc_server  # noqa: F401 - the real gRPC server
from tests.factories import RoleFactory

PASSWORD = "Sturdy-Pass-2026"

ACCEPTED = {
    "张三": "张三",                       # the example
    "山田太郎": "山田太郎",
    "ヤマダータロウ": "ヤマダータロウ",    # ー is a letter (Lm)
    "Ольга": "Ольга",
    "محمد": "محمد",
    "हिन्दी": "हिन्दी",                    # combining vowel signs and virama (Mn/Mc) after letters
    "김철수": "김철수",
    "Straße": "Straße",
    "élodie.b@corp-1": "élodie.b@corp-1",
    "ab": "ab",
    "ｚｈａｎｇ_ｓａｎ": "zhang_san",      # fullwidth forms are stored NFKC
    "〇一二": "〇一二",                  # 〇 (Nl) is used in names
    "x" * 50: "x" * 50,
}
REFUSED = {
    "a": "1 character",
    "张": "1 character",
    "zhang san": "space",
    "张 三": "ideographic space (NFKC: space)",
    "tab\there": "control",
    "x" * 51: "51 characters",
    "a/b": "slash",
    "o'brien": "apostrophe",
    "smile😀": "emoji",
    "zero\u200bwidth": "zero-width space",
    "\u0301accent": "a mark with nothing before it",
    "-\u0301x": "a mark on a symbol",
    "ヤマダ・タロウ": "middle dot",
    "㍿" * 13: "52 characters after NFKC",
    "": "empty",
}


def create_body(org, **overrides) -> dict:
    role = RoleFactory(codes=["task:view"])
    body = {"username": "newcomer", "password": PASSWORD, "realName": "New Comer", "departmentId": org.a.pk,
            "roleId": role.pk, "status": 1}
    body.update(overrides)
    return body


# --- the rule itself ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(ACCEPTED))
def test_the_rule_accepts_letters_and_digits_of_any_script(name):
    assert username_problem(name) is None


@pytest.mark.parametrize("name", sorted(REFUSED), ids=[REFUSED[n] for n in sorted(REFUSED)])
def test_the_rule_refuses_what_is_not_a_letter_digit_or_one_of_four_symbols(name):
    assert username_problem(name)


def test_the_rule_names_the_offending_character():
    assert username_problem("zhang san") == "U+0020 SPACE is not allowed: a username is 2-50 letters or digits " \
                                            "(any script) and _ . @ -"
    assert username_problem("a") == "must be 2-50 characters (after Unicode NFKC normalisation), not 1"


def test_length_is_counted_on_the_stored_nfkc_form():
    decomposed = "e\u0301" * 25  # 50 code points as typed, 25 once composed
    assert username_problem(decomposed) is None
    assert username_problem("㍿" * 12) is None  # 12 typed, 48 stored ("株式会社" each)
    assert username_problem("㍿" * 13)


# --- REST: create, log in, uniqueness ---------------------------------------------------------------------

def test_a_chinese_username_is_created_and_logs_in(org, admin_api):
    data = admin_api.post("users", create_body(org, username="张三")).expect(0).data
    assert data["username"] == "张三"
    assert User.objects.get(pk=data["id"]).username_key == "张三"
    session = Api().post("auth/login", {"username": "张三", "password": PASSWORD}).expect(0).data
    assert session["user"]["username"] == "张三"
    assert Api(token=session["token"]).get("auth/userinfo").expect(0).data["id"] == data["id"]


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_names_of_any_script_are_created_as_stored_nfkc(org, admin_api, name):
    data = admin_api.post("users", create_body(org, username=name)).expect(0).data
    assert data["username"] == ACCEPTED[name]
    Api().post("auth/login", {"username": name, "password": PASSWORD}).expect(0)


@pytest.mark.parametrize("name", sorted(REFUSED), ids=[REFUSED[n] for n in sorted(REFUSED)])
def test_a_name_outside_the_rule_is_4001_on_username_and_creates_nothing(org, admin_api, name):
    before = User.objects.count()
    reply = admin_api.post("users", create_body(org, username=name)).expect(4001)
    assert list(reply.data["fields"]) == ["username"], reply.data
    assert reply.message.startswith("username: ")
    assert User.objects.count() == before
    assert not AuditLog.objects.filter(action="user.create").exists()


@pytest.mark.parametrize("first, second", [
    ("Straße", "STRASSE"),            # casefold: ß is ss
    ("Straße", "strasse"),
    ("张三", "张三"),
    ("zhang", "ＺＨＡＮＧ"),           # fullwidth, upper case
    ("ｚｈａｎｇ", "Zhang"),
    ("Ольга", "ОЛЬГА"),
])
def test_names_that_fold_to_one_key_are_one_username(org, admin_api, first, second):
    created = admin_api.post("users", create_body(org, username=first)).expect(0).data
    reply = admin_api.post("users", create_body(org, username=second)).expect(4009)
    assert "already exists" in reply.message
    assert User.objects.filter(username_key=username_key(first)).count() == 1
    # and either spelling logs in to the one account
    assert Api().post("auth/login", {"username": second, "password": PASSWORD}).expect(0).data["user"]["id"] == \
        created["id"]


@pytest.mark.parametrize("first, second", [
    ("alice", "ålice"),    # accents are different names (username_key keeps them) ...
    ("はな", "ハナ"),        # ... and so are hiragana and katakana
    ("resume", "résumé"),
])
def test_names_the_key_tells_apart_are_two_users_on_every_backend(org, admin_api, first, second):
    """Uniqueness is username_key alone: MariaDB's accent- and kana-insensitive utf8mb4_unicode_ci must not
    add a second rule of its own through the username column."""
    one = admin_api.post("users", create_body(org, username=first)).expect(0).data
    two = admin_api.post("users", create_body(org, username=second)).expect(0).data
    assert one["id"] != two["id"]
    assert Api().post("auth/login", {"username": second, "password": PASSWORD}).expect(0).data["user"]["id"] == \
        two["id"]


def test_renaming_to_a_name_outside_the_rule_is_4001_and_changes_nothing(org, admin_api):
    user = User.objects.get(pk=admin_api.post("users", create_body(org, username="张三")).expect(0).data["id"])
    body = {"username": "张", "realName": user.real_name, "departmentId": user.department_id, "roleId": user.role_id,
            "status": 1}
    reply = admin_api.put(f"users/{user.pk}", body).expect(4001)
    assert list(reply.data["fields"]) == ["username"]
    assert User.objects.get(pk=user.pk).username == "张三"
    admin_api.put(f"users/{user.pk}", {**body, "username": "张三丰"}).expect(0)
    assert User.objects.get(pk=user.pk).username == "张三丰"


def test_the_username_search_finds_unicode_names_as_login_matches_them(org, admin_api):
    """The keyword matches the folded key, so the search ignores case on both backends (the username column
    itself compares byte for byte)."""
    for name in ("张三", "Straße", "alice"):
        admin_api.post("users", create_body(org, username=name, realName="Person")).expect(0)

    def found(keyword: str) -> list[str]:
        return [u["username"] for u in admin_api.get("users", keyword=keyword).expect(0).data["list"]]

    assert found("张") == ["张三"]
    assert found("STRASSE") == found("straß") == found("ｓｔｒａ") == ["Straße"]
    assert found("ALIC") == ["alice"]
    assert found("ålic") == []


# --- every other caller: services, gRPC login, bootstrap ----------------------------------------------------

def test_the_service_applies_the_rule_whoever_calls_it(org):
    """gRPC, declarative and command callers reach users through the services, not the REST serializer."""
    role = RoleFactory(codes=["task:view"])
    actor = Actor(user=org.admin, via="grpc")
    with pytest.raises(errors.InvalidArgument) as info:
        services.user_create(actor=actor, username="zhang san", password=PASSWORD, real_name="Z", email=None,
                             phone=None, department_id=org.a.pk, role_id=role.pk, status=1)
    assert list(info.value.fields) == ["username"]
    assert not User.objects.filter(username_key="zhang san").exists()
    user = services.user_create(actor=actor, username="ｚｈａｎｇ三", password=PASSWORD, real_name="Z", email=None,
                                phone=None, department_id=org.a.pk, role_id=role.pk, status=1)
    assert user.username == "zhang三"
    with pytest.raises(errors.InvalidArgument):
        services.user_update(actor=actor, user_id=user.pk, username="z", real_name="Z", email=None, phone=None,
                             department_id=org.a.pk, role_id=role.pk, status=1)
    assert User.objects.get(pk=user.pk).username == "zhang三"


@pytest.mark.django_db(transaction=True)
def test_a_chinese_username_authenticates_over_grpc(rpc, org, admin_api):
    admin_api.post("users", create_body(org, username="张三")).expect(0)
    reply = rpc().auth.Authenticate(auth_pb2.AuthenticateRequest(username="张三", password=PASSWORD))
    assert reply.success and reply.user_info.username == "张三"
    valid = rpc().auth.ValidateToken(auth_pb2.ValidateTokenRequest(token=reply.access_token))
    assert valid.valid and valid.user_id == reply.user_info.user_id


def test_bootstrap_creates_an_admin_with_a_unicode_name(db, settings):
    settings.DJS_AUTH = replace(settings.DJS_AUTH, admin_username="管理员")
    call_command("bootstrap", stdout=StringIO(), stderr=StringIO())
    assert User.objects.get(username_key="管理员").username == "管理员"


@pytest.mark.parametrize("name", ["a", "admin user", "root/admin"])
def test_bootstrap_refuses_an_admin_name_outside_the_rule_and_creates_nobody(db, settings, name):
    settings.DJS_AUTH = replace(settings.DJS_AUTH, admin_username=name)
    with pytest.raises(CommandError) as info:
        call_command("bootstrap", stdout=StringIO(), stderr=StringIO())
    assert str(info.value).startswith("auth.adminUsername: ")
    assert not User.objects.exists()


def test_login_with_a_name_no_user_can_have_is_just_a_failed_login(db):
    """Login does not apply the creation rule: a name outside it simply matches nobody (same answer as a
    wrong password, no oracle), so accounts created before the rule changed keep logging in."""
    reply = Api().post("auth/login", {"username": "no such/name", "password": PASSWORD}).expect(4010)
    assert reply.message == "invalid username or password"
