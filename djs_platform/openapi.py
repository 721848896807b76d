"""OpenAPI post-processing for typed clients: the output shapes as tight as the API answers them.

The console's types are generated from this schema (``web-ui/src/api/schema.gen.ts``, ``make schema-ts``,
docs/console.md "API types are generated"), so a loose schema is a loose console. The output serializers type
some fields by how they are read, not by what they hold: a ``CharField`` over a model choice, an
``IntegerField`` status, a ``JSONField`` or ``DictField`` of known objects. Their field classes stay as they
are (:class:`djs_platform.output.PlainOutput` fast-paths by class); this hook, run after
:func:`djs_platform.schema.envelope_postprocessing_hook`, narrows their schemas instead:

* an enum is copied from where the apps' own query or input serializers declare it (``_param``, ``_prop``),
  so the values have one source and the platform imports nothing from ``apps``;
* an integer status becomes the enum of its ``min..max`` as the list's query serializer bounds it
  (``_range``);
* JSON of known objects gets named components (``RecordAttempt``, ``DailyStat``, ``TopFailingTask``);
* the page envelope keeps the record-list fields (``hasMore``, ``nextCursor``, ...) on ``GET /records`` only,
  where ``hasMore`` and ``nextCursor`` are always present.

A reference that no longer resolves (an operation, parameter or property renamed) fails the generation with
a message naming it, rather than silently loosening the schema again.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Schema = dict[str, Any]
Resolver = Callable[[Schema], Schema]

#: Keys of a copied enum schema that belong to its source (validation of an input, a generated id).
_SOURCE_ONLY = ("minLength", "maxLength", "x-spec-enum-id", "description", "default", "readOnly", "writeOnly")


def _operation(result: Schema, operation_id: str) -> Schema:
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return operation
    raise LookupError(f"openapi: no operation {operation_id!r}")


def _param(operation_id: str, name: str, *, as_int: bool = False) -> Resolver:
    """The enum of query parameter ``name`` of ``operation_id`` (``as_int``: "0", "1", ... as integers)."""
    def resolve(result: Schema) -> Schema:
        for param in _operation(result, operation_id).get("parameters", []):
            if param.get("in") == "query" and param.get("name") == name and "enum" in param.get("schema", {}):
                values = param["schema"]["enum"]
                if as_int:
                    return {"type": "integer", "enum": [int(v) for v in values]}
                return {"type": param["schema"].get("type", "string"), "enum": list(values)}
        raise LookupError(f"openapi: {operation_id} has no query parameter {name!r} with an enum")
    return resolve


def _prop(component: str, name: str) -> Resolver:
    """The enum of property ``name`` of component ``component``."""
    def resolve(result: Schema) -> Schema:
        prop = result["components"]["schemas"].get(component, {}).get("properties", {}).get(name)
        if not prop or "enum" not in prop:
            raise LookupError(f"openapi: component {component} has no property {name!r} with an enum")
        return {k: copy.deepcopy(v) for k, v in prop.items() if k not in _SOURCE_ONLY}
    return resolve


def _range(operation_id: str, name: str) -> Resolver:
    """``minimum..maximum`` of integer query parameter ``name`` of ``operation_id``, as an integer enum."""
    def resolve(result: Schema) -> Schema:
        for param in _operation(result, operation_id).get("parameters", []):
            schema = param.get("schema", {})
            if param.get("name") == name and schema.get("type") == "integer" \
                    and "minimum" in schema and "maximum" in schema:
                return {"type": "integer", "enum": list(range(schema["minimum"], schema["maximum"] + 1))}
        raise LookupError(f"openapi: {operation_id} has no bounded integer query parameter {name!r}")
    return resolve


def _fixed(schema: Schema) -> Resolver:
    return lambda result: copy.deepcopy(schema)


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


#: Components this hook adds: the objects inside JSON columns and hand-built answers.
COMPONENTS: dict[str, Schema] = {
    "RecordAttempt": {
        "type": "object",
        "description": "One call of an execution (a record's attempts): attempt 0 is the first try.",
        "properties": {
            "attempt": {"type": "integer"},
            "target": {"type": "string", "enum": ["primary", "fallback"]},
            "instance": {"type": "string", "nullable": True},
            "statusCode": {"type": "integer", "nullable": True},
            "costMs": {"type": "integer"},
            "error": {"type": "string", "nullable": True},
        },
        "required": ["attempt", "target", "instance", "statusCode", "costMs", "error"],
    },
    "DailyStat": {
        "type": "object",
        "description": "One platform-zone local day of /records/stats (total includes running, killed, "
                       "skipped and lost).",
        "properties": {
            "date": {"type": "string", "format": "date"},
            "total": {"type": "integer"},
            "success": {"type": "integer"},
            "failed": {"type": "integer"},
        },
        "required": ["date", "total", "success", "failed"],
    },
    "TopFailingTask": {
        "type": "object",
        "properties": {
            "taskId": {"type": "integer"},
            "taskName": {"type": "string"},
            "failures": {"type": "integer"},
        },
        "required": ["taskId", "taskName", "failures"],
    },
}

_TASK_TYPE = _param("tasks_list", "taskType")
_TASK_FIELDS: dict[str, Resolver] = {
    "taskType": _TASK_TYPE,
    "concurrencyPolicy": _prop("HttpTaskInputRequest", "concurrencyPolicy"),
    "misfirePolicy": _prop("HttpTaskInputRequest", "misfirePolicy"),
    "routeStrategy": _prop("HttpTaskInputRequest", "routeStrategy"),
    "status": _range("tasks_list", "status"),
    "headers": _fixed({"type": "object", "additionalProperties": {"type": "string"}}),
}
_RECORD_STATUS = _param("records_list", "status", as_int=True)
_TRIGGER_TYPE = _param("records_list", "triggerType")
_STATUS_01 = _range("users_list", "status")

#: ``{component: {property: its schema}}``; ``nullable`` and ``description`` of the original are kept.
PROPERTIES: dict[str, dict[str, Resolver]] = {
    "TaskOutput": _TASK_FIELDS,
    "TaskListOutput": _TASK_FIELDS,
    "AppliedTaskOutput": {"taskType": _TASK_TYPE},
    "RecordOutput": {
        "taskType": _param("records_list", "taskType"),
        "triggerType": _TRIGGER_TYPE,
        "status": _RECORD_STATUS,
        "attempts": _fixed({"type": "array", "items": _ref("RecordAttempt"), "maxItems": 20}),
    },
    "LastRunOutput": {"triggerType": _TRIGGER_TYPE, "status": _RECORD_STATUS},
    "TriggerStatusOutput": {"triggerType": _fixed({"type": "string", "enum": ["MANUAL", "CHILD"]})},
    "RecordStats": {
        "daily": _fixed({"type": "array", "items": _ref("DailyStat")}),
        "topFailingTasks": _fixed({"type": "array", "items": _ref("TopFailingTask")}),
    },
    "AlertOutput": {"kind": _param("alerts_list", "kind"), "status": _param("alerts_list", "status")},
    "DeliveryOutput": {"channel": _fixed({"type": "string", "enum": ["webhook", "email"]})},
    "ExecutorOutput": {
        "kind": _param("executors_list", "kind"),
        "status": _param("executors_list", "status"),
        "source": _param("executors_list", "source"),
    },
    "NameOutput": {"kind": _param("executors_names_list", "kind")},
    "UserOutput": {"status": _STATUS_01},
    "UserInfoOutput": {"status": _STATUS_01},
    "RoleOutput": {"status": _range("roles_list", "status")},
    "PermissionOutput": {"status": _range("roles_list", "status")},
    "DepartmentOutput": {"status": _STATUS_01},
}

#: Properties an answer has that its serializer leaves out: ``{component: {property: (schema, required)}}``.
EXTRA_PROPERTIES: dict[str, dict[str, tuple[Schema, bool]]] = {
    # GET /departments?tree=true answers the same rows nested: every node with its children
    "DepartmentOutput": {"children": ({
        "type": "array", "items": _ref("DepartmentOutput"),
        "description": "only in the tree answer (GET /departments?tree=true): the sub-departments, nested",
    }, False)},
    # GET /tasks/cron-preview echoes the expression and the zone it used (the platform zone when none given)
    "CronPreviewOutput": {
        "cron": ({"type": "string"}, True),
        "timezone": ({"type": "string", "description": "IANA zone the local times are in"}, True),
    },
}

#: Request fields a view requires although its serializer (shared with the update) has them optional.
REQUIRED: dict[str, tuple[str, ...]] = {
    # POST /executors: apps/executors/specs.py EntrySpec.from_values(create=True)
    "EntryCreateInputRequest": ("name", "kind", "address"),
}

#: Query parameters declared as the text they arrive as where the value is a number:
#: ``{(operation, parameter): schema}``; the record status as the integers records answer (1 is sent as "1").
QUERY_PARAMETERS: dict[tuple[str, str], Resolver] = {
    ("records_list", "status"): _RECORD_STATUS,
}

#: Page-envelope fields only ``GET /records`` answers (djs_platform.schema._paged lists them for every page).
RECORD_PAGE_FIELDS = ("hasMore", "nextCursor", "totalCapped", "rawPruned")
RECORD_PAGE_REQUIRED = ("hasMore", "nextCursor")


def _narrow(prop: Schema, schema: Schema) -> Schema:
    kept = {k: prop[k] for k in ("description", "nullable", "readOnly") if k in prop}
    if "$ref" in schema and kept:  # OpenAPI 3.0: siblings of $ref are ignored; wrap it
        schema = {"allOf": [schema]}
    return {**schema, **kept}


def _data_schema(operation: Schema) -> Schema | None:
    content = operation.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
    return content.get("schema", {}).get("properties", {}).get("data")


def typed_outputs_postprocessing_hook(result: Schema, generator: object, request: object,
                                      public: bool) -> Schema:
    """SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"], after the envelope hook (module docstring)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    resolved = {component: {name: resolve(result) for name, resolve in fields.items()}
                for component, fields in PROPERTIES.items()}
    for component, fields in resolved.items():
        if component not in schemas:
            raise LookupError(f"openapi: no component {component!r}")
        properties = schemas[component]["properties"]
        for name, schema in fields.items():
            if name not in properties:
                raise LookupError(f"openapi: component {component} has no property {name!r}")
            properties[name] = _narrow(properties[name], schema)
    for component, extra in EXTRA_PROPERTIES.items():
        for name, (schema, required) in extra.items():
            schemas[component]["properties"][name] = copy.deepcopy(schema)
            if required:
                schemas[component]["required"] = sorted({*schemas[component].get("required", []), name})
    for component, names in REQUIRED.items():
        missing = [n for n in names if n not in schemas[component]["properties"]]
        if missing:
            raise LookupError(f"openapi: component {component} has no properties {missing}")
        schemas[component]["required"] = sorted({*schemas[component].get("required", []), *names})
    parameters = {key: resolve(result) for key, resolve in QUERY_PARAMETERS.items()}
    for (operation_id, name), schema in parameters.items():
        matches = [p for p in _operation(result, operation_id).get("parameters", [])
                   if p.get("in") == "query" and p.get("name") == name]
        if not matches:
            raise LookupError(f"openapi: {operation_id} has no query parameter {name!r}")
        for param in matches:
            param["schema"] = schema
    for name, schema in COMPONENTS.items():
        schemas[name] = copy.deepcopy(schema)
    result["components"]["schemas"] = dict(sorted(schemas.items()))

    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            data = _data_schema(operation) if isinstance(operation, dict) else None
            if not data or "list" not in data.get("properties", {}) or "page" not in data["properties"]:
                continue
            if operation.get("operationId") == "records_list":
                data["required"] = [*data["required"], *RECORD_PAGE_REQUIRED]
            else:
                for name in RECORD_PAGE_FIELDS:
                    data["properties"].pop(name, None)
    return result
