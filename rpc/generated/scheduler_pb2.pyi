from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KillExecutionRequest(_message.Message):
    __slots__ = ("record_id", "year", "month")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    YEAR_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    record_id: int
    year: int
    month: int
    def __init__(self, record_id: _Optional[int] = ..., year: _Optional[int] = ..., month: _Optional[int] = ...) -> None: ...

class ScheduleTaskRequest(_message.Message):
    __slots__ = ("name", "cron_expression", "handler", "params", "max_retry", "department_id", "timeout", "status")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CRON_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    HANDLER_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRY_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    name: str
    cron_expression: str
    handler: str
    params: bytes
    max_retry: int
    department_id: int
    timeout: int
    status: int
    def __init__(self, name: _Optional[str] = ..., cron_expression: _Optional[str] = ..., handler: _Optional[str] = ..., params: _Optional[bytes] = ..., max_retry: _Optional[int] = ..., department_id: _Optional[int] = ..., timeout: _Optional[int] = ..., status: _Optional[int] = ...) -> None: ...

class ScheduleTaskResponse(_message.Message):
    __slots__ = ("task_id", "success", "message")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    task_id: int
    success: bool
    message: str
    def __init__(self, task_id: _Optional[int] = ..., success: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...

class TaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: int
    def __init__(self, task_id: _Optional[int] = ...) -> None: ...

class TaskResponse(_message.Message):
    __slots__ = ("success", "message")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    def __init__(self, success: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...

class TaskStatusResponse(_message.Message):
    __slots__ = ("task_id", "status", "last_execute_time", "next_execute_time", "retry_count", "success_count", "fail_count", "avg_execution_time", "running_count")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LAST_EXECUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    NEXT_EXECUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    RETRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_COUNT_FIELD_NUMBER: _ClassVar[int]
    FAIL_COUNT_FIELD_NUMBER: _ClassVar[int]
    AVG_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    RUNNING_COUNT_FIELD_NUMBER: _ClassVar[int]
    task_id: int
    status: int
    last_execute_time: str
    next_execute_time: str
    retry_count: int
    success_count: int
    fail_count: int
    avg_execution_time: float
    running_count: int
    def __init__(self, task_id: _Optional[int] = ..., status: _Optional[int] = ..., last_execute_time: _Optional[str] = ..., next_execute_time: _Optional[str] = ..., retry_count: _Optional[int] = ..., success_count: _Optional[int] = ..., fail_count: _Optional[int] = ..., avg_execution_time: _Optional[float] = ..., running_count: _Optional[int] = ...) -> None: ...

class BatchScheduleTasksRequest(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[ScheduleTaskRequest]
    def __init__(self, tasks: _Optional[_Iterable[_Union[ScheduleTaskRequest, _Mapping]]] = ...) -> None: ...

class BatchScheduleTasksResponse(_message.Message):
    __slots__ = ("results", "overall_success", "message")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    OVERALL_SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ScheduleTaskResponse]
    overall_success: bool
    message: str
    def __init__(self, results: _Optional[_Iterable[_Union[ScheduleTaskResponse, _Mapping]]] = ..., overall_success: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...

class PauseSchedulerRequest(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class ResumeSchedulerRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SchedulerStateResponse(_message.Message):
    __slots__ = ("success", "message", "paused", "paused_at", "paused_by", "paused_by_username", "reason")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    PAUSED_AT_FIELD_NUMBER: _ClassVar[int]
    PAUSED_BY_FIELD_NUMBER: _ClassVar[int]
    PAUSED_BY_USERNAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    paused: bool
    paused_at: str
    paused_by: int
    paused_by_username: str
    reason: str
    def __init__(self, success: _Optional[bool] = ..., message: _Optional[str] = ..., paused: _Optional[bool] = ..., paused_at: _Optional[str] = ..., paused_by: _Optional[int] = ..., paused_by_username: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
