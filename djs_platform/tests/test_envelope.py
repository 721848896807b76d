"""The /v1 envelope, error codes and HTTP statuses, as a client sees them."""
import pytest


def test_health_is_public_and_reports_checks(api, db):
    reply = api().get("health").expect(0)
    assert reply.data["status"] == "up"
    assert reply.data["checks"] == {"database": "up", "cache": "up"}
    assert reply.data["timestamp"].endswith("Z")


def test_unknown_route_answers_4004_envelope(admin_api):
    reply = admin_api.get("no/such/route").expect(4004)
    assert "no route" in reply.message


def test_missing_token_answers_4010(api, db):
    reply = api().get("auth/userinfo").expect(4010)
    assert reply.response["WWW-Authenticate"].startswith("Bearer")


def test_malformed_authorization_header_answers_4010(api, db):
    client = api()
    client.client.credentials(HTTP_AUTHORIZATION="Token abc")
    assert "malformed" in client.get("auth/userinfo").expect(4010).message


def test_malformed_json_answers_4001(admin_api):
    reply = admin_api.call("POST", "departments", raw="{not json").expect(4001)
    assert "malformed" in reply.message


@pytest.mark.parametrize("body", [[], "text", 5, None])
def test_non_object_body_answers_4001(admin_api, body):
    import json

    admin_api.call("POST", "departments", raw=json.dumps(body)).expect(4001)


def test_wrong_method_answers_4005(admin_api):
    admin_api.call("PATCH", "departments", {}).expect(4005)


@pytest.mark.parametrize("params", [{"page": 0}, {"page": "x"}, {"size": 101}, {"size": 0}, {"size": "-1"}])
def test_bad_pagination_answers_4001(admin_api, params):
    reply = admin_api.get("users", **params).expect(4001)
    assert set(reply.data["fields"]) <= {"page", "size"}


def test_pagination_shape(admin_api, org):
    org.member(org.a)
    reply = admin_api.get("users", page=1, size=1).expect(0)
    assert set(reply.data) == {"list", "total", "page", "size"}
    assert reply.data["page"] == 1 and reply.data["size"] == 1
    assert len(reply.data["list"]) == 1 and reply.data["total"] >= 2


def test_json_keys_are_camel_case(admin_api, org):
    user = admin_api.get(f"users/{org.admin.pk}").expect(0).data
    assert {"realName", "departmentId", "roleId", "createTime", "updateTime"} <= set(user)
    assert not [k for k in user if "_" in k]


def test_security_headers_present(api, db):
    resp = api().get("health").response
    assert resp["X-Content-Type-Options"] == "nosniff"
    assert resp["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in resp["Content-Security-Policy"]


def test_repeated_query_parameter_answers_4001(admin_api):
    """Found by the deep fuzz on MariaDB: ``?status=[]&status=0.0`` answered 200 (the last value won)."""
    reply = admin_api.call("GET", "/v1/users?status=1&status=0").expect(4001)
    assert reply.data["fields"] == {"status": ["given more than once"]}
    admin_api.call("GET", "/v1/tasks?page=1&size=5&page=2").expect(4001)
    admin_api.get("users", status=1).expect(0)


def test_body_over_the_upload_limit_answers_4001_and_changes_nothing(admin_api, settings):
    """Found by the deep fuzz on MariaDB: a body over DATA_UPLOAD_MAX_MEMORY_SIZE answered 500."""
    from apps.tasks.models import Task

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    before = Task.objects.count()
    body = {"tasks": [{"type": "HTTP", "name": "x" * 2000, "cron": "0 3 * * *", "url": "http://127.0.0.1:9/"}]}
    reply = admin_api.post("tasks/apply", body).expect(4001)
    assert reply.message == "request body too large: at most 1024 bytes"
    admin_api.post("tasks/http", {"name": "y" * 2000}).expect(4001)
    assert Task.objects.count() == before
