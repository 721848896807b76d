"""OpenAPI post-processing: describe the real wire format (the ``{code, message, data}`` envelope)."""
from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse

#: For endpoints whose success answer carries ``data: null``.
NO_DATA = {200: OpenApiResponse(description="success; data is null")}


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "djs_platform.authentication.JWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}

ERROR_CODES = {
    "400": "4001 invalid parameter (field errors in data.fields)",
    "401": "4010 not authenticated or token invalid",
    "403": "4003 permission denied",
    "404": "4004 not found (also for objects outside your department scope)",
    "409": "4009 conflict",
    "429": "4029 too many requests",
}

ENVELOPE_ERROR = {
    "type": "object",
    "required": ["code", "message", "data"],
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "data": {"nullable": True},
    },
}


def _paged(items: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "list": items,
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "size": {"type": "integer"},
            # record lists (GET /records): deep paging and capped counts, docs/records.md
            "hasMore": {"type": "boolean"},
            "nextCursor": {"type": "string", "nullable": True},
            "totalCapped": {"type": "boolean"},
            "rawPruned": {"type": "boolean"},
        },
        "required": ["list", "total", "page", "size"],
    }


def _envelope(data_schema: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["code", "message", "data"],
        "properties": {
            "code": {"type": "integer", "enum": [0]},
            "message": {"type": "string"},
            "data": data_schema if data_schema is not None else {"nullable": True},
        },
    }


def envelope_postprocessing_hook(result: dict[str, Any], generator, request, public) -> dict[str, Any]:  # noqa: ARG001
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in list(responses):
                if not status.startswith("2"):
                    continue
                content = responses[status].get("content", {}).get("application/json")
                schema = content.get("schema") if content else {"type": "object", "nullable": True,
                                                                  "description": "always null"}
                paged = (
                    method == "get" and schema is not None and schema.get("type") == "array"
                    and any(p.get("name") == "page" for p in operation.get("parameters", []))
                )
                data = _paged(schema) if paged else schema
                responses.pop(status)
                responses["200"] = {
                    "description": "success",
                    "content": {"application/json": {"schema": _envelope(data)}},
                }
            if operation.get("security") != [] and path not in {"/v1/health", "/v1/shutdown"}:
                responses.setdefault("401", _error(ERROR_CODES["401"]))
            for status in ("400", "403", "404", "409", "429"):
                if status == "429" and not path.endswith("/auth/login"):
                    continue
                responses.setdefault(status, _error(ERROR_CODES[status]))
    return result


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ENVELOPE_ERROR}}}
