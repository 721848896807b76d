from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterRequest(_message.Message):
    __slots__ = ("name", "kind", "address", "ttl_seconds", "weight", "department_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    address: str
    ttl_seconds: int
    weight: int
    department_id: int
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., address: _Optional[str] = ..., ttl_seconds: _Optional[int] = ..., weight: _Optional[int] = ..., department_id: _Optional[int] = ...) -> None: ...

class DeregisterRequest(_message.Message):
    __slots__ = ("name", "kind", "address", "department_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    address: str
    department_id: int
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., address: _Optional[str] = ..., department_id: _Optional[int] = ...) -> None: ...

class DeregisterResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: bool
    def __init__(self, removed: _Optional[bool] = ...) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ("name", "kind", "department_id", "page", "size")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    department_id: int
    page: int
    size: int
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., department_id: _Optional[int] = ..., page: _Optional[int] = ..., size: _Optional[int] = ...) -> None: ...

class Executor(_message.Message):
    __slots__ = ("id", "department_id", "department_name", "name", "kind", "address", "weight", "status", "source", "ttl_seconds", "last_heartbeat", "live", "instances", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: int
    department_id: int
    department_name: str
    name: str
    kind: str
    address: str
    weight: int
    status: str
    source: str
    ttl_seconds: int
    last_heartbeat: str
    live: bool
    instances: _containers.RepeatedScalarFieldContainer[str]
    create_time: str
    update_time: str
    def __init__(self, id: _Optional[int] = ..., department_id: _Optional[int] = ..., department_name: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., address: _Optional[str] = ..., weight: _Optional[int] = ..., status: _Optional[str] = ..., source: _Optional[str] = ..., ttl_seconds: _Optional[int] = ..., last_heartbeat: _Optional[str] = ..., live: _Optional[bool] = ..., instances: _Optional[_Iterable[str]] = ..., create_time: _Optional[str] = ..., update_time: _Optional[str] = ...) -> None: ...

class ListResponse(_message.Message):
    __slots__ = ("executors", "total")
    EXECUTORS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    executors: _containers.RepeatedCompositeFieldContainer[Executor]
    total: int
    def __init__(self, executors: _Optional[_Iterable[_Union[Executor, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...
