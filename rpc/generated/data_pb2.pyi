from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskHistoryRequest(_message.Message):
    __slots__ = ("task_id", "start_time", "end_time", "limit", "offset", "year", "month")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    YEAR_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    task_id: int
    start_time: str
    end_time: str
    limit: int
    offset: int
    year: int
    month: int
    def __init__(self, task_id: _Optional[int] = ..., start_time: _Optional[str] = ..., end_time: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ..., year: _Optional[int] = ..., month: _Optional[int] = ...) -> None: ...

class TaskHistoryRecord(_message.Message):
    __slots__ = ("id", "task_id", "task_name", "success", "status_code", "response", "cost_time", "execute_time", "retry_times", "status", "error", "trigger_type", "scheduled_time", "instance", "shard", "shard_total")
    ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    COST_TIME_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    RETRY_TIMES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_TYPE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    SHARD_TOTAL_FIELD_NUMBER: _ClassVar[int]
    id: int
    task_id: int
    task_name: str
    success: bool
    status_code: int
    response: str
    cost_time: int
    execute_time: str
    retry_times: int
    status: int
    error: str
    trigger_type: str
    scheduled_time: str
    instance: str
    shard: int
    shard_total: int
    def __init__(self, id: _Optional[int] = ..., task_id: _Optional[int] = ..., task_name: _Optional[str] = ..., success: _Optional[bool] = ..., status_code: _Optional[int] = ..., response: _Optional[str] = ..., cost_time: _Optional[int] = ..., execute_time: _Optional[str] = ..., retry_times: _Optional[int] = ..., status: _Optional[int] = ..., error: _Optional[str] = ..., trigger_type: _Optional[str] = ..., scheduled_time: _Optional[str] = ..., instance: _Optional[str] = ..., shard: _Optional[int] = ..., shard_total: _Optional[int] = ...) -> None: ...

class TaskHistoryResponse(_message.Message):
    __slots__ = ("success", "records", "total", "message")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    records: _containers.RepeatedCompositeFieldContainer[TaskHistoryRecord]
    total: int
    message: str
    def __init__(self, success: _Optional[bool] = ..., records: _Optional[_Iterable[_Union[TaskHistoryRecord, _Mapping]]] = ..., total: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class UserListRequest(_message.Message):
    __slots__ = ("department_id", "page", "size")
    DEPARTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    department_id: int
    page: int
    size: int
    def __init__(self, department_id: _Optional[int] = ..., page: _Optional[int] = ..., size: _Optional[int] = ...) -> None: ...

class UserInfo(_message.Message):
    __slots__ = ("id", "username", "real_name", "email", "phone", "department_id", "department_name", "role_id", "role_name", "status", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    REAL_NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: int
    username: str
    real_name: str
    email: str
    phone: str
    department_id: int
    department_name: str
    role_id: int
    role_name: str
    status: int
    create_time: str
    def __init__(self, id: _Optional[int] = ..., username: _Optional[str] = ..., real_name: _Optional[str] = ..., email: _Optional[str] = ..., phone: _Optional[str] = ..., department_id: _Optional[int] = ..., department_name: _Optional[str] = ..., role_id: _Optional[int] = ..., role_name: _Optional[str] = ..., status: _Optional[int] = ..., create_time: _Optional[str] = ...) -> None: ...

class UserListResponse(_message.Message):
    __slots__ = ("success", "users", "total", "message")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    users: _containers.RepeatedCompositeFieldContainer[UserInfo]
    total: int
    message: str
    def __init__(self, success: _Optional[bool] = ..., users: _Optional[_Iterable[_Union[UserInfo, _Mapping]]] = ..., total: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class DepartmentListRequest(_message.Message):
    __slots__ = ("page", "size")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    page: int
    size: int
    def __init__(self, page: _Optional[int] = ..., size: _Optional[int] = ...) -> None: ...

class Department(_message.Message):
    __slots__ = ("id", "name", "description", "create_time", "parent_id", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    description: str
    create_time: str
    parent_id: int
    status: int
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., create_time: _Optional[str] = ..., parent_id: _Optional[int] = ..., status: _Optional[int] = ...) -> None: ...

class DepartmentListResponse(_message.Message):
    __slots__ = ("success", "departments", "total", "message")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    departments: _containers.RepeatedCompositeFieldContainer[Department]
    total: int
    message: str
    def __init__(self, success: _Optional[bool] = ..., departments: _Optional[_Iterable[_Union[Department, _Mapping]]] = ..., total: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class TaskStatisticsRequest(_message.Message):
    __slots__ = ("department_id", "start_time", "end_time")
    DEPARTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    department_id: int
    start_time: str
    end_time: str
    def __init__(self, department_id: _Optional[int] = ..., start_time: _Optional[str] = ..., end_time: _Optional[str] = ...) -> None: ...

class TaskStatisticsResponse(_message.Message):
    __slots__ = ("success", "task_count", "success_rate", "avg_execution_time", "execution_stats", "message")
    class ExecutionStatsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    TASK_COUNT_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    AVG_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_STATS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    task_count: int
    success_rate: float
    avg_execution_time: float
    execution_stats: _containers.ScalarMap[str, float]
    message: str
    def __init__(self, success: _Optional[bool] = ..., task_count: _Optional[int] = ..., success_rate: _Optional[float] = ..., avg_execution_time: _Optional[float] = ..., execution_stats: _Optional[_Mapping[str, float]] = ..., message: _Optional[str] = ...) -> None: ...

class StatisticsRequest(_message.Message):
    __slots__ = ("department_id", "period")
    DEPARTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    department_id: int
    period: str
    def __init__(self, department_id: _Optional[int] = ..., period: _Optional[str] = ...) -> None: ...

class StatisticsResponse(_message.Message):
    __slots__ = ("success", "task_count", "success_rate", "avg_execution_time", "message")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    TASK_COUNT_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    AVG_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    task_count: int
    success_rate: float
    avg_execution_time: float
    message: str
    def __init__(self, success: _Optional[bool] = ..., task_count: _Optional[int] = ..., success_rate: _Optional[float] = ..., avg_execution_time: _Optional[float] = ..., message: _Optional[str] = ...) -> None: ...
