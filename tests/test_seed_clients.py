"""Seed conformance: a client written against ``seeds/004_*.txt`` works unchanged where the seed is explicit
(issue 18; DESIGN §14.4).

Each test replays calls as the seed documents them — the REST bodies and headers of its "API 文档" and the RPC
tables and ``auth.proto`` of its "RPC 服务 API" — and checks the fields the seed's responses show. Replays of the
other seed sections (the gRPC ScheduleTask sample, the default-data INSERTs, seed 001's schedule forms) join this
module as they are built. What still differs from the seed, and why, is listed in docs/api.md.

The seed's ``contextPath`` is ``/v1``: ``POST /auth/login`` is ``POST /v1/auth/login``.
"""
from __future__ import annotations

import secrets
import subprocess
import sys
from urllib.parse import urlparse

import jwt
import pytest
from django.contrib.auth.hashers import check_password, make_password

from apps.accounts.models import Role
from conftest import Api
from djs_platform.config import BASE_DIR
from rpc.generated import auth_pb2, auth_pb2_grpc, data_pb2, data_pb2_grpc
from rpc.tests.conftest import CALL_TIMEOUT, channel, rpc_server  # noqa: F401 - the real gRPC server
from tests.factories import UserFactory
from tests.platform import ADMIN_PASSWORD, manage, platform_env, required_env

sys.path.insert(0, str(BASE_DIR / "scripts"))
import gen_init_sql  # noqa: E402

#: The seed's login sample (API 文档, 用户登录).
SEED_LOGIN = {"username": "admin", "password": "admin123"}
#: The ``user`` object of the seed's login response, and the extra fields of its ``/auth/userinfo`` response.
SEED_USER_FIELDS = {"id", "username", "realName", "departmentId", "departmentName", "roleId", "roleName"}
SEED_USERINFO_FIELDS = SEED_USER_FIELDS | {"email", "phone", "permissions"}


@pytest.fixture
def seed_admin(org):
    """The seed's default ``admin`` / ``admin123`` in the top department with the admin role (its INSERTs)."""
    return UserFactory(username=SEED_LOGIN["username"], password=make_password(SEED_LOGIN["password"]),
                       real_name="系统管理员", department=org.hq, role=Role.objects.get(name="admin"))


def bare(method):
    """A stub method called as the seed's client calls the auth service: no metadata at all."""
    return lambda request: method(request, timeout=CALL_TIMEOUT)


# --- REST: 用户认证 API ------------------------------------------------------------------------------------

def test_seed_login_then_refresh_with_the_authorization_header_only(seed_admin):
    # POST /auth/login, Content-Type: application/json, {"username": "admin", "password": "admin123"}
    login = Api().post("/v1/auth/login", SEED_LOGIN).expect(0)
    assert login.message == "success"
    assert isinstance(login.data["token"], str) and login.data["token"].count(".") == 2
    assert SEED_USER_FIELDS <= set(login.data["user"])
    assert (login.data["user"]["username"], login.data["user"]["realName"]) == ("admin", "系统管理员")

    # POST /auth/refresh, Authorization: Bearer <token> — no body
    refreshed = Api(token=login.data["token"]).call("POST", "/v1/auth/refresh").expect(0)
    assert refreshed.message == "success"
    token = refreshed.data["token"]
    assert token != login.data["token"]
    assert refreshed.data["expiresIn"] > 0

    # GET /auth/userinfo, Authorization: Bearer <token> — with the refreshed token
    info = Api(token=token).get("/v1/auth/userinfo").expect(0).data
    assert SEED_USERINFO_FIELDS <= set(info)
    assert info["id"] == login.data["user"]["id"] and "task:view" in info["permissions"]


def test_seed_client_refreshing_before_every_expiry_keeps_its_session(seed_admin):
    """The seed's client keeps only the latest token and refreshes it: each one is exchanged once."""
    token = Api().post("/v1/auth/login", SEED_LOGIN).expect(0).data["token"]
    for _ in range(3):
        token = Api(token=token).call("POST", "/v1/auth/refresh").expect(0).data["token"]
    Api(token=token).get("/v1/auth/userinfo").expect(0)


# --- gRPC: 用户认证 RPC 服务 (auth.proto) --------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_seed_grpc_authenticate_validate_and_refresh_without_metadata(channel, seed_admin):  # noqa: F811
    auth = auth_pb2_grpc.AuthServiceStub(channel)
    authenticate = bare(auth.Authenticate)
    validate = bare(auth.ValidateToken)
    refresh = bare(auth.RefreshToken)

    # Authenticate(username, password) -> token, user_id, success, message
    login = authenticate(auth_pb2.AuthenticateRequest(**SEED_LOGIN))
    assert login.success and login.message and login.access_token and login.refresh_token
    assert login.user_info.user_id == seed_admin.pk and login.user_info.username == "admin"

    # ValidateToken(token) -> valid, user_id
    checked = validate(auth_pb2.ValidateTokenRequest(token=login.access_token))
    assert (checked.valid, checked.user_id) == (True, seed_admin.pk)
    assert not validate(auth_pb2.ValidateTokenRequest(token="not-a-token")).valid

    # RefreshToken(refresh_token) -> success, access_token, refresh_token: rotation ...
    rotated = refresh(auth_pb2.RefreshTokenRequest(refresh_token=login.refresh_token))
    assert rotated.success and rotated.access_token and rotated.refresh_token
    assert validate(auth_pb2.ValidateTokenRequest(token=rotated.access_token)).valid
    # ... and, for a client holding only its access token, the same one-time exchange as POST /auth/refresh
    renewed = refresh(auth_pb2.RefreshTokenRequest(refresh_token=rotated.access_token))
    assert renewed.success and renewed.access_token and not renewed.refresh_token
    claims = jwt.decode(renewed.access_token, options={"verify_signature": False})
    assert claims["typ"] == "access" and claims["sub"] == str(seed_admin.pk)
    assert validate(auth_pb2.ValidateTokenRequest(token=renewed.access_token)).user_id == seed_admin.pk

    # the tokens work for the calls that do need metadata (the seed's sample sends it as a Bearer token)
    data = data_pb2_grpc.DataServiceStub(channel)
    departments = data.GetDepartmentList(data_pb2.DepartmentListRequest(),
                                         metadata=[("authorization", f"Bearer {renewed.access_token}")],
                                         timeout=CALL_TIMEOUT)
    assert departments.success and departments.total >= 1


# --- 数据库设置: 初始化默认数据 ---------------------------------------------------------------------------------

#: The seed's "初始化默认数据" block, as written (its order, its comments, the plain-text admin password).
SEED_DEFAULT_DATA = """
-- 插入默认权限
INSERT INTO `permission` (`name`, `code`, `description`) VALUES
('任务查看', 'task:view', '查看任务的权限'),
('任务创建', 'task:create', '创建任务的权限'),
('任务更新', 'task:update', '编辑任务的权限'),
('任务删除', 'task:delete', '删除任务的权限'),
('记录查看', 'record:view', '查看执行记录的权限'),
('部门管理', 'department:manage', '管理部门的权限'),
('用户管理', 'user:manage', '管理用户的权限'),
('角色管理', 'role:manage', '管理角色的权限');

-- 插入管理员角色
INSERT INTO `role` (`name`, `description`) VALUES
('管理员', '拥有所有权限的系统管理员');

-- 将管理员角色与所有权限关联
INSERT INTO `role_permission` (`role_id`, `permission_id`)
SELECT 1, id FROM `permission`;

-- 插入默认部门
INSERT INTO `department` (`name`, `description`, `parent_id`) VALUES
('总部', '总部', NULL);

-- 插入管理员用户（生产环境中密码应加密）
INSERT INTO `user` (`username`, `password`, `real_name`, `department_id`, `role_id`) VALUES
('admin', 'admin123', '系统管理员', 1, 1);
"""


@pytest.mark.processes
@pytest.mark.mariadb_only
def test_seed_default_data_inserts_run_on_the_init_sql_schema_and_bootstrap_then_wants_a_real_password():
    import MySQLdb

    server = required_env("DJS_TEST_MARIADB_URL")
    parsed = urlparse(server)
    schema = "djs_seeddata_" + secrets.token_hex(4)
    conn = MySQLdb.connect(host=parsed.hostname, port=parsed.port, user=parsed.username, passwd=parsed.password,
                           charset="utf8mb4", autocommit=True)
    conn.cursor().execute(f"CREATE DATABASE {schema} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    args, _ = gen_init_sql._mysql_args(server)

    def mariadb(sql: str) -> subprocess.CompletedProcess:
        return subprocess.run(["mariadb", *args, "--default-character-set=utf8mb4", schema], input=sql.encode(),
                              capture_output=True, timeout=120)

    def rows(sql: str) -> tuple:
        cursor = conn.cursor()
        cursor.execute(sql)
        return cursor.fetchall()

    try:
        loaded = mariadb(gen_init_sql.schema_only(gen_init_sql.OUTPUT.read_text()))
        assert loaded.returncode == 0, loaded.stderr.decode()
        assert rows(f"SELECT COUNT(*) FROM {schema}.permission") == ((0,),)  # no data rows in the schema part
        # strict, as MySQL 8 and MariaDB are by default: a column without a default would fail the INSERT
        inserted = mariadb("SET SESSION sql_mode = 'STRICT_TRANS_TABLES';\n" + SEED_DEFAULT_DATA)
        assert inserted.returncode == 0, inserted.stderr.decode()

        filled = "status = 1 AND create_time > NOW() - INTERVAL 5 MINUTE AND update_time = create_time"
        for table, count in (("permission", 8), ("role", 1), ("department", 1), ("user", 1)):
            assert rows(f"SELECT COUNT(*) FROM {schema}.{table} WHERE {filled}") == ((count,),), table
        assert rows(f"SELECT COUNT(*) FROM {schema}.role_permission WHERE create_time > NOW() - INTERVAL 5 MINUTE "
                    "AND update_time = create_time") == ((8,),)
        assert rows(f"SELECT username, username_key, password, real_name FROM {schema}.user") == (
            ("admin", "admin", "admin123", "系统管理员"),)
        # ON UPDATE CURRENT_TIMESTAMP, as the seed's update_time columns have it
        conn.cursor().execute(f"UPDATE {schema}.department SET create_time = '2020-01-01', update_time = '2020-01-01'")
        conn.cursor().execute(f"UPDATE {schema}.department SET description = '总部 (HQ)'")
        assert rows(f"SELECT update_time > '2020-01-02' FROM {schema}.department") == ((1,),)

        env = platform_env(parsed._replace(path="/" + schema).geturl())
        manage(env, "migrate", "--check")  # the schema part carries the migration rows: nothing left to apply
        refused = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), "bootstrap"], env=env, cwd=BASE_DIR,
                                 capture_output=True, text=True, timeout=300)
        assert refused.returncode != 0
        assert "unhashed password" in refused.stderr and "--reset-admin-password" in refused.stderr
        assert rows(f"SELECT password FROM {schema}.user") == (("admin123",),)  # nothing changed

        reset = manage(env, "bootstrap", "--reset-admin-password")
        assert "reset the password of 'admin'" in reset.stdout
        (stored,), = rows(f"SELECT password FROM {schema}.user")
        assert stored.startswith("argon2$") and check_password(ADMIN_PASSWORD, stored)
        assert "password unchanged" in manage(env, "bootstrap").stdout
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {schema}")
        conn.close()


# --- gRPC: 任务调度 RPC 服务, the seed's "RPC 客户端示例" (with authorization metadata added) ----------------------

#: The seed's client sample, field for field (Go: ``schedulerpb.ScheduleTaskRequest{Name: ..., MaxRetry: 3}``).
SEED_SCHEDULE_TASK = {"name": "ExampleTask", "cron_expression": "*/5 * * * *", "handler": "http",
                      "params": b'{"url": "http://example.com/api"}', "max_retry": 3}


@pytest.mark.django_db(transaction=True)
def test_seed_grpc_client_sample_schedules_its_task(channel, seed_admin):  # noqa: F811
    import grpc

    from apps.tasks.models import Task
    from rpc.generated import scheduler_pb2, scheduler_pb2_grpc

    client = scheduler_pb2_grpc.TaskSchedulerStub(channel)
    request = scheduler_pb2.ScheduleTaskRequest(**SEED_SCHEDULE_TASK)
    # as the seed sends it (no metadata): only Authenticate, ValidateToken and RefreshToken are public (docs/api.md)
    with pytest.raises(grpc.RpcError) as refused:
        client.ScheduleTask(request, timeout=CALL_TIMEOUT)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED and not Task.objects.exists()

    token = bare(auth_pb2_grpc.AuthServiceStub(channel).Authenticate)(
        auth_pb2.AuthenticateRequest(**SEED_LOGIN)).access_token
    resp = client.ScheduleTask(request, metadata=[("authorization", f"Bearer {token}")], timeout=CALL_TIMEOUT)
    # log.Printf("Task scheduled with ID: %d, Success: %v", resp.TaskId, resp.Success)
    assert resp.success and resp.task_id > 0 and resp.message
    task = Task.objects.get(pk=resp.task_id)
    assert (task.name, task.cron_expression, task.task_type, task.url, task.max_retry) == (
        "ExampleTask", "*/5 * * * *", "HTTP", "http://example.com/api", 3)
    # what the sample leaves out: the caller's department, GET (no body), enabled with its next fire time
    assert (task.department_id, task.http_method, task.status) == (seed_admin.department_id, "GET", 1)
    assert task.next_execute_time is not None


# --- gRPC: 数据访问 RPC 服务, GetStatistics(department_id, period) -> task_count, success_rate, avg_execution_time ------

@pytest.mark.django_db(transaction=True)
def test_seed_grpc_get_statistics(channel, seed_admin):  # noqa: F811
    from datetime import timedelta

    from django.utils import timezone

    from apps.records.models import RecordStatus
    from apps.records.selectors import period_start
    from rpc.tests.conftest import delete_records_of
    from tests.factories import TaskFactory, add_record

    task = TaskFactory(department=seed_admin.department, status=0)
    today = period_start("day", timezone.now())
    for second, (status, cost) in enumerate(((RecordStatus.SUCCESS, 100), (RecordStatus.SUCCESS, 300),
                                             (RecordStatus.FAILED, 200))):
        add_record(task_id=task.pk, task_name=task.name, department_id=task.department_id,
                   scheduled_time=today + timedelta(seconds=second), status=status, cost_time=cost)
    try:
        token = bare(auth_pb2_grpc.AuthServiceStub(channel).Authenticate)(
            auth_pb2.AuthenticateRequest(**SEED_LOGIN)).access_token
        data = data_pb2_grpc.DataServiceStub(channel)
        auth = [("authorization", f"Bearer {token}")]
        for period in ("day", "week", "month", "year", ""):
            stats = data.GetStatistics(data_pb2.StatisticsRequest(department_id=seed_admin.department_id,
                                                                  period=period), metadata=auth, timeout=CALL_TIMEOUT)
            assert stats.success and stats.task_count == 1, period
            assert (round(stats.success_rate, 4), stats.avg_execution_time) == (0.6667, 200.0), period
        whole_scope = data.GetStatistics(data_pb2.StatisticsRequest(), metadata=auth, timeout=CALL_TIMEOUT)
        assert whole_scope.task_count == 1 and whole_scope.message.startswith("month: ")
    finally:
        delete_records_of(task.pk)
