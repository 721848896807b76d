"""The server speaks the request's language (DESIGN §14.5, docs/i18n.md).

* The catalogs: every message of ours has a reviewed (non-fuzzy) Chinese translation with the same placeholders,
  every message marked in the code is in the catalog, the committed ``.mo`` files say what the ``.po`` files say,
  and messages worded like DRF's are translated like DRF's own catalog translates them.
* The code: no message literal reaches an error type without gettext (an AST scan), and no f-string sits inside
  ``_()``.
* The API: representative bad requests over every resource answer with Chinese messages and field errors under
  ``Accept-Language: zh-CN``, with English ones without it, and with the same codes either way; ``server.language``
  is the fallback; the success envelope says "success" in any language; labels follow the language while codes
  and user data do not; a language never leaks into the next request a thread serves (REST and gRPC).
"""
from __future__ import annotations

import ast
import gettext as gnu_gettext
import io
import re
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from babel.messages import mofile, pofile
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.utils import translation

from apps.accounts.models import Role, User
from apps.departments.models import Department
from conftest import Api
from djs_platform.conf import server_language
from djs_platform.config import BASE_DIR, load_config
from djs_platform.middleware import pick_language
from apps.accounts.permissions import ALL_PERMISSIONS, PERMISSION_LABELS
from rpc.generated import auth_pb2, data_pb2
from rpc.tests.conftest import channel, fails, rpc, rpc_server  # noqa: F401 - the real gRPC server fixtures
from tests.factories import RoleFactory, TaskFactory, UserFactory

LOCALE = BASE_DIR / "locale"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")  # CJK punctuation, ideographs, full-width forms
SOURCE_DIRS = ("apps", "djs_platform", "rpc")


def has_cjk(text: object) -> bool:
    return bool(CJK.search(str(text)))


def read_po(language: str):
    with open(LOCALE / language / "LC_MESSAGES" / "django.po", "rb") as fh:
        return pofile.read_po(fh)


# --- 1. the catalogs ----------------------------------------------------------------------------------------------

def test_every_message_has_a_reviewed_chinese_translation_with_the_same_placeholders():
    catalog = read_po("zh_Hans")
    assert len(catalog) > 300
    untranslated = [m.id for m in catalog if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not untranslated, f"no Chinese translation: {untranslated}"
    assert not fuzzy, f"fuzzy (unreviewed) translations: {fuzzy}"
    problems = {m.id: [str(e) for e in m.check(catalog)] for m in catalog if m.id}
    assert not {k: v for k, v in problems.items() if v}, "placeholders differ between msgid and msgstr"
    assert all(has_cjk(m.string) for m in catalog if m.id), "a 'translation' without Chinese characters"


def _makefile_keywords() -> dict:
    """The extraction keywords of `make messages` (Makefile I18N_KEYWORDS): one list for both."""
    text = (BASE_DIR / "Makefile").read_text()
    line = re.search(r"^I18N_KEYWORDS\s*:=\s*(.+)$", text, re.M).group(1)
    return {**DEFAULT_KEYWORDS, **parse_keywords(re.findall(r"-k\s+(\S+)", line))}


def test_every_marked_message_of_the_code_is_in_both_catalogs():
    with open(BASE_DIR / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, "babel.cfg")
    keywords = _makefile_keywords()
    in_code = {}
    for directory in SOURCE_DIRS:
        for filename, lineno, message, _comments, _context in extract_from_dir(
                BASE_DIR / directory, method_map, options_map, keywords=keywords):
            msgid = message[0] if isinstance(message, (tuple, list)) else message
            in_code.setdefault(msgid, f"{directory}/{filename}:{lineno}")
    assert len(in_code) > 300
    for language in ("zh_Hans", "en"):
        catalog = read_po(language)
        missing = {msgid: where for msgid, where in in_code.items() if msgid not in catalog}
        assert not missing, f"marked in the code but not in {language}/django.po (run `make messages`): {missing}"
        ids = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id}
        stale = sorted(msgid for msgid in ids if msgid not in in_code)
        assert not stale, f"in {language}/django.po but no longer in the code (run `make messages`): {stale}"


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
def test_the_committed_mo_files_are_compiled_from_the_po_files(language):
    """What `make locale` (pybabel compile, pinned Babel: byte for byte the same output) makes of the .po."""
    with open(LOCALE / language / "LC_MESSAGES" / "django.po", "rb") as fh:
        catalog = pofile.read_po(fh, language)
    expected = io.BytesIO()
    mofile.write_mo(expected, catalog)
    committed = (LOCALE / language / "LC_MESSAGES" / "django.mo").read_bytes()
    assert committed == expected.getvalue(), "locale/*.mo is stale: run `make locale` and commit the .mo files"


def test_messages_worded_like_drf_are_translated_like_drf():
    """The task and alert specs answer in DRF's words (djs_platform/inputs.py): a field reads the same whichever
    way it was checked. Where DRF's zh_Hans catalog has the sentence, ours says exactly the same."""
    import rest_framework

    drf_mo = Path(rest_framework.__file__).parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo"
    with open(drf_mo, "rb") as fh:
        drf = gnu_gettext.GNUTranslations(fh)._catalog
    ours = {m.id: m.string for m in read_po("zh_Hans") if m.id}
    shared = {msgid for msgid in ours if isinstance(msgid, str) and msgid in drf}
    assert {"This field is required.", "This field may not be blank.", "A valid integer is required."} <= shared
    assert {msgid: ours[msgid] for msgid in shared} == {msgid: drf[msgid] for msgid in shared}


# --- 2. the code --------------------------------------------------------------------------------------------------

#: Calls whose message is checked: our error types (djs_platform/errors.py), DRF's and Django's ValidationError.
ERROR_TYPES = {"ApplicationError", "InvalidArgument", "Unauthenticated", "Forbidden", "NotFound", "MethodNotAllowed",
               "Conflict", "AlreadyExists", "TooManyRequests", "ServiceUnavailable", "InternalError",
               "ValidationError"}
GETTEXT = {"_", "gettext", "gettext_lazy", "gettext_noop", "pgettext", "pgettext_lazy", "ngettext", "ngettext_lazy"}
#: (file, source of the offending argument) -> why it may stay as it is.
ALLOWED: dict[tuple[str, str], str] = {
    ("apps/accounts/seed.py", "text"): "gettext of a gettext_noop-marked constant, in server.language",
}


def _name(node: ast.AST) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def _literal_text(node: ast.AST) -> bool:
    """A message written in place: a string literal, an f-string, or a concatenation or container holding one."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(node.value.strip())
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Call) and _name(node.left.func) in GETTEXT:
            return False  # _("... %(x)s") % {...}
        return _literal_text(node.left) or _literal_text(node.right)
    if isinstance(node, ast.IfExp):
        return _literal_text(node.body) or _literal_text(node.orelse)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return any(_literal_text(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return any(_literal_text(v) for v in node.values)
    if isinstance(node, ast.DictComp):
        return _literal_text(node.value)
    return False


def _source_files():
    for directory in SOURCE_DIRS:
        for path in sorted((BASE_DIR / directory).rglob("*.py")):
            rel = path.relative_to(BASE_DIR)
            if not {"tests", "migrations", "generated", "cli"} & set(rel.parts):
                yield rel.as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def test_no_message_literal_reaches_an_error_without_gettext():
    found = []
    for rel, tree in _source_files():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _name(node.func)
            if name in ERROR_TYPES:
                messages = node.args[:1] + [k.value for k in node.keywords if k.arg in ("message", "detail")]
            elif name == "invalid":  # errors.invalid(field, message)
                messages = node.args[1:2]
            else:
                continue
            for message in messages:
                if _literal_text(message) and (rel, ast.unparse(message)) not in ALLOWED:
                    found.append(f"{rel}:{node.lineno}: {name}({ast.unparse(message)[:80]})")
    assert not found, "messages without gettext (wrap them in _(), docs/i18n.md):\n" + "\n".join(found)


def test_gettext_is_given_a_literal_never_an_f_string():
    """``_(f"...")`` would look up a msgid that exists in no catalog; placeholders are named instead."""
    found = []
    for rel, tree in _source_files():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in GETTEXT and node.args:
                first = node.args[0]
                literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
                if not literal and (rel, ast.unparse(first)) not in ALLOWED:
                    found.append(f"{rel}:{node.lineno}: {ast.unparse(node)[:100]}")
    assert not found, "gettext with something other than a string literal:\n" + "\n".join(found)


# --- how a language is chosen -------------------------------------------------------------------------------------

@pytest.mark.parametrize("header, expected", [
    ("zh-CN", "zh-hans"), ("zh", "zh-hans"), ("zh-Hans", "zh-hans"), ("zh-hans-CN", "zh-hans"), ("zh_CN", "zh-hans"),
    ("en", "en"), ("en-GB", "en"), ("en-US,en;q=0.9", "en"),
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-hans"), ("en;q=0.5, zh-CN;q=0.9", "zh-hans"), ("fr, en;q=0.3", "en"),
    ("zh-TW, en;q=0.5", "en"), ("zh-CN;q=0", "fallback"), ("fr", "fallback"), ("*", "fallback"), ("", "fallback"),
    ("zh-CN;q=bogus", "fallback"), ("x" * 600, "fallback"), (",,,;;;q=", "fallback"),
])
def test_accept_language_picks_a_language_djs_has_else_the_server_language(header, expected):
    assert pick_language(header, default="fallback") == expected


def test_server_language_is_a_validated_configuration_key():
    assert server_language(load_config(environ={})) == "en"
    assert server_language(load_config(environ={"DJS_SERVER_LANGUAGE": "zh-CN"})) == "zh-hans"
    assert server_language(load_config(environ={"DJS_SERVER_LANGUAGE": "ZH-cn"})) == "zh-hans"
    assert not [w for w in load_config(environ={"DJS_SERVER_LANGUAGE": "en"}).warnings if "LANGUAGE" in w]
    for bad in ("fr", "zh-TW", "chinese", "1"):
        with pytest.raises(ImproperlyConfigured, match="server.language"):
            server_language(load_config(environ={"DJS_SERVER_LANGUAGE": bad}))


# --- 3. the sweep: every resource's errors in both languages ------------------------------------------------------

@pytest.fixture
def world(org):
    """Objects the bad requests run into: tasks, a user with a role, a limited user."""
    task = TaskFactory(department=org.a, name="nightly-export", status=0)
    grpc_task = TaskFactory(department=org.a, name="billing", status=0, task_type="GRPC",
                            grpc_service="127.0.0.1:50051/djs.test.Target", grpc_method="Echo", url=None)
    role = RoleFactory(name="operators", codes=["task:view"])
    member = UserFactory(username="member-one", department=org.a, role=role)
    limited = org.member(org.a, {"task:view"}, username="limited-one")
    return {"task": task, "grpc_task": grpc_task, "role": role, "member": member, "limited": limited}


def http_task(org, **over):
    body = {"name": "ping", "departmentId": org.a.pk, "cron": "*/5 * * * *", "url": "http://127.0.0.1:9/ping",
            "httpMethod": "GET", "status": 0}
    body.update(over)
    return body


def user_body(org, world, **over):
    body = {"username": "newcomer", "password": "Sturdy-Pass-2026", "realName": "New Comer",
            "departmentId": org.a.pk, "roleId": world["role"].pk, "status": 1}
    body.update(over)
    return body


def policy_body(world, **over):
    body = {"taskId": world["task"].pk, "onFailure": True, "emails": ["ops@example.com"]}
    body.update(over)
    return body


def bad_requests(org, world):
    """(label, who, method, path, body) of requests that must fail; ``raw:`` bodies are sent as they are."""
    t, g = world["task"], world["grpc_task"]
    return [
        # login and tokens
        ("login: wrong password", "anon", "POST", "auth/login", {"username": "nobody", "password": "wrong-pass"}),
        ("login: nothing given", "anon", "POST", "auth/login", {}),
        ("login: blank username", "anon", "POST", "auth/login", {"username": "", "password": "x"}),
        ("no token", "anon", "GET", "tasks", None),
        ("garbage token", "garbage", "GET", "tasks", None),
        ("not a bearer", "basic", "GET", "tasks", None),
        # tasks: cron grammar
        ("cron: out of range", "admin", "POST", "tasks/http", http_task(org, cron="61 * * * *")),
        ("cron: too few fields", "admin", "POST", "tasks/http", http_task(org, cron="* * *")),
        ("cron: @every without duration", "admin", "POST", "tasks/http", http_task(org, cron="@every")),
        ("cron: @reboot", "admin", "POST", "tasks/http", http_task(org, cron="@reboot")),
        ("cron: never fires", "admin", "POST", "tasks/http", http_task(org, cron="0 0 0 31 2 *")),
        ("cron: bad step", "admin", "POST", "tasks/http", http_task(org, cron="*/0 * * * *")),
        ("cron: bad duration unit", "admin", "POST", "tasks/http", http_task(org, cron="@every 3d")),
        ("cron: bad month name", "admin", "POST", "tasks/http", http_task(org, cron="0 0 1 FOO *")),
        ("cron: blank", "admin", "POST", "tasks/http", http_task(org, cron="   ")),
        # tasks: fields
        ("task: blank name", "admin", "POST", "tasks/http", http_task(org, name="")),
        ("task: name too long", "admin", "POST", "tasks/http", http_task(org, name="n" * 300)),
        ("task: missing url", "admin", "POST", "tasks/http", {k: v for k, v in http_task(org).items() if k != "url"}),
        ("task: not an http url", "admin", "POST", "tasks/http", http_task(org, url="ftp://files.example.com/x")),
        ("task: credentials in url", "admin", "POST", "tasks/http", http_task(org, url="http://u:p@example.com/")),
        ("task: egress denied", "admin", "POST", "tasks/http", http_task(org, url="http://169.254.169.254/latest")),
        ("task: unknown time zone", "admin", "POST", "tasks/http", http_task(org, timezone="Mars/Olympus")),
        ("task: reserved header", "admin", "POST", "tasks/http", http_task(org, headers='{"Host": "x"}')),
        ("task: bad method", "admin", "POST", "tasks/http", http_task(org, httpMethod="FETCH")),
        ("task: retry count not a number", "admin", "POST", "tasks/http", http_task(org, retryCount="x")),
        ("task: retry count too big", "admin", "POST", "tasks/http", http_task(org, retryCount=10**6)),
        ("task: unknown field", "admin", "POST", "tasks/http", http_task(org, bogus=1)),
        ("task: body not an object", "admin", "POST", "tasks/http", "raw:[1, 2]"),
        ("task: malformed json", "admin", "POST", "tasks/http", "raw:{\"name\": "),
        ("task: SHELL disabled", "admin", "POST", "tasks/shell",
         {"name": "sh", "departmentId": org.a.pk, "cron": "@daily", "shellCommand": "/bin/true", "status": 0}),
        ("task: bad grpc service", "admin", "POST", "tasks/grpc",
         {"name": "g", "departmentId": org.a.pk, "cron": "@daily", "grpcService": "not a service!",
          "grpcMethod": "Echo", "status": 0}),
        ("task: wrong type on update", "admin", "PUT", f"tasks/http/{g.pk}", http_task(org, name="billing")),
        ("task: duplicate name", "admin", "POST", "tasks/http", http_task(org, name="NIGHTLY-export")),
        ("task: its own child", "admin", "POST", "tasks/http", http_task(org, name="x", childTaskIds=[10**9])),
        ("task: not found", "admin", "GET", "tasks/987654", None),
        ("task: run now without a live node", "admin", "POST", f"tasks/{t.pk}/trigger", {}),
        ("task: cron preview", "admin", "GET", "tasks/cron-preview?cron=bad", None),
        ("task: page 0", "admin", "GET", "tasks?page=0", None),
        ("task: size twice", "admin", "GET", "tasks?size=1&size=2", None),
        ("task: create without permission", "limited", "POST", "tasks/http", http_task(org)),
        # users and passwords
        ("user: password too short", "admin", "POST", "users", user_body(org, world, password="Sh0rt!")),
        ("user: password all digits", "admin", "POST", "users", user_body(org, world, password="4829103857261")),
        ("user: password common", "admin", "POST", "users", user_body(org, world, password="password123")),
        ("user: password like the username", "admin", "POST", "users",
         user_body(org, world, username="brightstar", password="brightstar1")),
        ("user: password blank", "admin", "POST", "users", user_body(org, world, password="          ")),
        ("user: duplicate username", "admin", "POST", "users", user_body(org, world, username="MEMBER-one")),
        ("user: bad username", "admin", "POST", "users", user_body(org, world, username="a b")),
        ("user: bad phone", "admin", "POST", "users", user_body(org, world, phone="call me")),
        ("user: unknown role", "admin", "POST", "users", user_body(org, world, roleId=10**9)),
        ("user: delete yourself", "admin", "DELETE", f"users/{org.admin.pk}", None),
        ("user: wrong old password", "member", "PATCH", f"users/{world['member'].pk}/password",
         {"oldPassword": "not-it-at-all", "newPassword": "Another-Pass-2026"}),
        ("user: list without permission", "limited", "GET", "users", None),
        # departments
        ("department: duplicate name", "admin", "POST", "departments",
         {"name": "A1", "parentId": org.a.pk, "status": 1}),
        ("department: still has children", "admin", "DELETE", f"departments/{org.a.pk}", None),
        ("department: unknown parent", "admin", "POST", "departments", {"name": "X", "parentId": 10**9, "status": 1}),
        ("department: under its own child", "admin", "PUT", f"departments/{org.a.pk}",
         {"name": "A", "parentId": org.a1.pk, "status": 1}),
        ("department: not found", "admin", "GET", "departments/987654", None),
        # roles and permissions
        ("role: unknown permission", "admin", "POST", "roles", {"name": "r", "permissions": [10**9], "status": 1}),
        ("role: duplicate name", "admin", "POST", "roles", {"name": "admin", "permissions": [], "status": 1}),
        ("role: assigned, cannot delete", "admin", "DELETE", f"roles/{world['role'].pk}", None),
        ("role: permissions not a list", "admin", "POST", "roles", {"name": "r", "permissions": "all", "status": 1}),
        # alerts
        ("alert: no channel", "admin", "POST", "alert-policies", policy_body(world, emails=[])),
        ("alert: no condition", "admin", "POST", "alert-policies", policy_body(world, onFailure=False)),
        ("alert: bad e-mail", "admin", "POST", "alert-policies", policy_body(world, emails=["not-an-address"])),
        ("alert: task and department", "admin", "POST", "alert-policies", policy_body(world, departmentId=org.a.pk)),
        ("alert: webhook not http", "admin", "POST", "alert-policies",
         policy_body(world, webhookUrl="ftp://hooks.example.com/")),
        ("alert: unknown task", "admin", "POST", "alert-policies", policy_body(world, taskId=10**9)),
        # records
        ("records: missing year", "admin", "GET", "records?month=1", None),
        ("records: month 13", "admin", "GET", "records?year=2026&month=13", None),
        ("records: bad cursor", "admin", "GET", "records?year=2026&month=1&cursor=nonsense", None),
        ("record: not found", "admin", "GET", "records/987654?year=2026&month=1", None),
        # the rest
        ("no route", "admin", "GET", "no-such-resource", None),
        ("method not allowed", "admin", "DELETE", "permissions", None),
        ("audit: bad page size", "admin", "GET", "audit-logs?size=1000", None),
    ]


def _client(who: str, org, world) -> Api:
    if who == "admin":
        return Api(org.admin)
    if who in ("limited", "member"):
        return Api(world[who])
    api = Api()
    if who == "garbage":
        api.client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    elif who == "basic":
        api.client.credentials(HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    return api


def _send(api: Api, method: str, path: str, body, **headers):
    if isinstance(body, str) and body.startswith("raw:"):
        return api.call(method, path, raw=body[4:], **headers)
    return api.call(method, path, body, **headers)


def _texts(reply) -> list[str]:
    texts = [reply.message]
    fields = (reply.data or {}).get("fields") or {} if isinstance(reply.data, dict) else {}
    for messages in fields.values():
        texts += [str(m) for m in (messages if isinstance(messages, list) else [messages])]
    return texts


#: Answers that may hold no Chinese: (label, text) -> why. Names, codes and user data echoed back are not translated.
SWEEP_ALLOWED: dict[tuple[str, str], str] = {}


def test_every_error_speaks_the_language_of_the_request_and_keeps_its_code(org, world):
    requests = bad_requests(org, world)
    assert len(requests) >= 40
    resources = {path.split("?")[0].split("/")[0] for _l, _w, _m, path, _b in requests}
    assert {"auth", "tasks", "users", "departments", "roles", "alert-policies", "records"} <= resources
    english, chinese = [], []
    for label, who, method, path, body in requests:
        en = _send(_client(who, org, world), method, path, body)
        zh = _send(_client(who, org, world), method, path, body, HTTP_ACCEPT_LANGUAGE="zh-CN")
        assert en.code != 0, (label, en)
        assert (zh.code, zh.status) == (en.code, en.status), (label, en.message, zh.message)
        en_fields = (en.data or {}).get("fields") if isinstance(en.data, dict) else None
        zh_fields = (zh.data or {}).get("fields") if isinstance(zh.data, dict) else None
        assert (sorted(zh_fields or {}) == sorted(en_fields or {})), (label, en_fields, zh_fields)
        assert zh.response["Content-Language"] == "zh-Hans" and "Accept-Language" in zh.response["Vary"]
        english += [(label, text) for text in _texts(en) if has_cjk(text)]
        chinese += [(label, text) for text in _texts(zh) if not has_cjk(text) and (label, text) not in SWEEP_ALLOWED]
    assert not chinese, "answers to Accept-Language: zh-CN without Chinese:\n" + "\n".join(map(str, chinese))
    assert not english, "answers without Accept-Language that are not English:\n" + "\n".join(map(str, english))


def test_drf_and_django_catalogs_are_picked_up(org, world):
    admin = Api(org.admin)
    zh = admin.post("tasks/http", http_task(org, name=""), HTTP_ACCEPT_LANGUAGE="zh-CN").expect(4001)
    assert zh.data["fields"]["name"] == ["该字段不能为空。"]  # DRF's zh_Hans catalog says so
    reply = admin.post("users", user_body(org, world, password="Sh0rt!"), HTTP_ACCEPT_LANGUAGE="zh-CN").expect(4001)
    assert any("密码长度太短" in m for m in reply.data["fields"]["password"])  # Django's password validators
    reply = Api().call("GET", "tasks", HTTP_ACCEPT_LANGUAGE="zh-CN").expect(4010)
    assert reply.message == "身份认证信息未提供。"  # DRF's NotAuthenticated


def test_a_cron_error_reads_in_chinese_and_names_the_field(org):
    reply = Api(org.admin).post("tasks/http", http_task(org, cron="61 * * * *"),
                                HTTP_ACCEPT_LANGUAGE="zh-CN").expect(4001)
    assert reply.data["fields"]["cron"] == ["分字段：61 超出范围 0-59"]
    assert reply.message == "cron：分字段：61 超出范围 0-59"
    english = Api(org.admin).post("tasks/http", http_task(org, cron="61 * * * *")).expect(4001)
    assert english.data["fields"]["cron"] == ["minute field: 61 is out of range 0-59"]


# --- 5. server.language, the success envelope, labels, seeds -------------------------------------------------------

def test_server_language_is_the_fallback_and_success_stays_success(org, settings):
    settings.DJS_SERVER = replace(settings.DJS_SERVER, language="zh-hans")
    admin = Api(org.admin)
    reply = admin.post("tasks/http", http_task(org, cron="@reboot")).expect(4001)
    assert has_cjk(reply.message) and reply.response["Content-Language"] == "zh-Hans"
    assert not has_cjk(admin.post("tasks/http", http_task(org, cron="@reboot"), HTTP_ACCEPT_LANGUAGE="en").message)
    for language in ("zh-CN", "en", None):
        extra = {"HTTP_ACCEPT_LANGUAGE": language} if language else {}
        ok = admin.call("GET", "tasks", **extra).expect(0)
        assert ok.message == "success"


def test_labels_follow_the_language_and_codes_and_names_do_not(org):
    admin = Api(org.admin)
    zh = admin.call("GET", "permissions", HTTP_ACCEPT_LANGUAGE="zh-CN").expect(0).data
    en = admin.call("GET", "permissions").expect(0).data
    rows_zh = {p["code"]: p for p in (zh["list"] if isinstance(zh, dict) else zh)}
    rows_en = {p["code"]: p for p in (en["list"] if isinstance(en, dict) else en)}
    assert rows_zh["task:view"]["label"] == "查看任务" and rows_en["task:view"]["label"] == "View tasks"
    assert rows_zh["task:view"]["name"] == rows_en["task:view"]["name"] == "View tasks"  # stored data unchanged
    assert all(has_cjk(p["label"]) for p in rows_zh.values())
    assert set(PERMISSION_LABELS) >= {code for code, _name, _d in ALL_PERMISSIONS}
    assert {code: str(PERMISSION_LABELS[code]) for code, _n, _d in ALL_PERMISSIONS} == \
        {code: name for code, name, _d in ALL_PERMISSIONS}  # the English label is the seeded name

    role = Role.objects.get(name="admin")
    detail = admin.call("GET", f"roles/{role.pk}", HTTP_ACCEPT_LANGUAGE="zh-CN").expect(0).data
    assert detail["permissionLabels"]["user:manage"] == "管理用户"
    assert sorted(detail["permissionLabels"]) == detail["permissionCodes"]

    Api().post("auth/login", {"username": org.admin.username, "password": "wrong-password"})
    logs = admin.call("GET", "audit-logs", HTTP_ACCEPT_LANGUAGE="zh-CN").expect(0).data["list"]
    failed = next(row for row in logs if row["action"] == "auth.login_failed")
    assert failed["actionLabel"] == "登录失败"
    logs = admin.call("GET", "audit-logs").expect(0).data["list"]
    assert next(row for row in logs if row["action"] == "auth.login_failed")["actionLabel"] == "Failed login"


def test_user_data_is_never_translated(org):
    admin = Api(org.admin)
    created = admin.post("departments", {"name": "Headquarters Annex", "parentId": org.hq.pk, "status": 1},
                         HTTP_ACCEPT_LANGUAGE="zh-CN").expect(0)
    assert created.message == "success"
    shown = admin.call("GET", f"departments/{created.data['id']}", HTTP_ACCEPT_LANGUAGE="zh-CN").expect(0).data
    assert shown["name"] == "Headquarters Annex"


def test_a_fresh_install_is_seeded_in_the_server_language(db, settings):
    settings.DJS_SERVER = replace(settings.DJS_SERVER, language="zh-hans")
    User.objects.filter(username=settings.DJS_AUTH.admin_username).delete()
    call_command("bootstrap", verbosity=0, stdout=open("/dev/null", "w"))
    top = Department.objects.filter(parent__isnull=True).order_by("id").first()
    assert (top.name, top.description) == ("总部", "顶级部门")
    assert Role.objects.get(name="admin").description == "拥有全部权限的系统管理员"
    assert User.objects.get(username=settings.DJS_AUTH.admin_username).real_name == "系统管理员"
    top.name = "研发中心"
    top.save()
    call_command("bootstrap", verbosity=0, stdout=open("/dev/null", "w"))  # not a fresh install: nothing rewritten
    top.refresh_from_db()
    assert top.name == "研发中心"


# --- threads: a language never outlives its request ---------------------------------------------------------------

def test_a_request_language_does_not_leak_into_the_next_request(org):
    admin = Api(org.admin)
    for _ in range(3):
        assert has_cjk(admin.call("GET", "tasks/987654", HTTP_ACCEPT_LANGUAGE="zh-CN").expect(4004).message)
        assert translation.get_language() == "en"
        assert admin.call("GET", "tasks/987654").expect(4004).message == "task not found"


# --- 4. gRPC ------------------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_grpc_details_follow_the_accept_language_metadata(rpc, org):  # noqa: F811 - fixture from rpc.tests
    zh = rpc(org.admin, metadata=[("accept-language", "zh-CN")])
    en = rpc(org.admin)
    for _ in range(4):  # several handler threads serve these; none keeps a language for the next call
        err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: zh.data.GetUserList(data_pb2.UserListRequest(size=101)))
        assert err.details().startswith("size：必须在 1 到"), err.details()
        err = fails(grpc.StatusCode.INVALID_ARGUMENT, lambda: en.data.GetUserList(data_pb2.UserListRequest(size=101)))
        assert err.details().startswith("size: must be between 1 and"), err.details()
    anonymous = rpc(metadata=[("accept-language", "zh-CN")])
    err = fails(grpc.StatusCode.INVALID_ARGUMENT,
                lambda: anonymous.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token="")))
    assert has_cjk(err.details()), err.details()
