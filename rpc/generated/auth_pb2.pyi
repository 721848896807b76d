from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuthenticateRequest(_message.Message):
    __slots__ = ("username", "password")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    username: str
    password: str
    def __init__(self, username: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class AuthenticateResponse(_message.Message):
    __slots__ = ("success", "access_token", "refresh_token", "user_info", "message", "expires_in")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    USER_INFO_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    success: bool
    access_token: str
    refresh_token: str
    user_info: UserInfo
    message: str
    expires_in: int
    def __init__(self, success: _Optional[bool] = ..., access_token: _Optional[str] = ..., refresh_token: _Optional[str] = ..., user_info: _Optional[_Union[UserInfo, _Mapping]] = ..., message: _Optional[str] = ..., expires_in: _Optional[int] = ...) -> None: ...

class UserInfo(_message.Message):
    __slots__ = ("user_id", "username", "real_name", "department_id", "department_name", "role_id", "role_name")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    REAL_NAME_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_NAME_FIELD_NUMBER: _ClassVar[int]
    user_id: int
    username: str
    real_name: str
    department_id: int
    department_name: str
    role_id: int
    role_name: str
    def __init__(self, user_id: _Optional[int] = ..., username: _Optional[str] = ..., real_name: _Optional[str] = ..., department_id: _Optional[int] = ..., department_name: _Optional[str] = ..., role_id: _Optional[int] = ..., role_name: _Optional[str] = ...) -> None: ...

class ValidateTokenRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class ValidateTokenResponse(_message.Message):
    __slots__ = ("valid", "user_id", "message")
    VALID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    user_id: int
    message: str
    def __init__(self, valid: _Optional[bool] = ..., user_id: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class RefreshTokenRequest(_message.Message):
    __slots__ = ("refresh_token",)
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    def __init__(self, refresh_token: _Optional[str] = ...) -> None: ...

class RefreshTokenResponse(_message.Message):
    __slots__ = ("success", "access_token", "refresh_token", "message", "expires_in")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    success: bool
    access_token: str
    refresh_token: str
    message: str
    expires_in: int
    def __init__(self, success: _Optional[bool] = ..., access_token: _Optional[str] = ..., refresh_token: _Optional[str] = ..., message: _Optional[str] = ..., expires_in: _Optional[int] = ...) -> None: ...

class UserPermissionsRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: int
    def __init__(self, user_id: _Optional[int] = ...) -> None: ...

class UserPermissionsResponse(_message.Message):
    __slots__ = ("success", "permissions", "message")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    permissions: _containers.RepeatedScalarFieldContainer[str]
    message: str
    def __init__(self, success: _Optional[bool] = ..., permissions: _Optional[_Iterable[str]] = ..., message: _Optional[str] = ...) -> None: ...
