"""Declarative tasks: make the tasks of a document exist as written (``manage.py apply_tasks``,
``POST /v1/tasks/apply`` / ``djsctl tasks apply``, ``scheduler.jobs`` at bootstrap).

A document is ``{"tasks": [...], "departments": [...]}`` (or a bare list of tasks). Each entry is the body of
``POST /tasks/http``, ``/tasks/grpc`` or ``/tasks/shell`` plus ``type`` (default HTTP), checked as that route
checks a body: it becomes a :class:`~apps.tasks.specs.TaskSpec`; its department is ``departmentId`` (as in the API) or ``department`` (an id, or a
name path from the top: ``"Headquarters/Ops"``). A task is identified by (department, name): an entry
whose task exists is an update (or unchanged when every field already matches), otherwise a create. With
``prune``, tasks of the document's departments (those of its entries, plus ``departments``) that no entry
names are deleted.

Everything happens in one transaction, in two steps: a plan (validation, permissions and scope, exactly
as the single-task services check them) and the writes, done by those same services (``task_create``,
``task_update``, ``task_delete``: audit rows, next fire times, SHELL rules). A dry run stops after the plan,
so it answers the same report, and the same errors, as the real run would, and changes nothing. Any error
leaves the database as it was.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.db import transaction
from django.utils.translation import gettext, gettext_lazy

from apps.accounts.audit import camel
from apps.departments.models import Department
from apps.tasks import services, specs
from apps.tasks.models import Task, TaskType, task_name_key
from apps.tasks.specs import TaskSpec
from djs_platform import errors, validation
from djs_platform.actor import Actor
from djs_platform.tenancy import (
    NOT_FOUND_MESSAGES,
    department_scope_ids,
    require_permission,
)

#: Most entries one document may hold (a file, a request, ``scheduler.jobs``).
MAX_APPLY_ENTRIES = 1000
#: Longest department reference by name path ("Headquarters/Ops/Billing").
MAX_DEPARTMENT_PATH = 2000
#: The task types an entry's ``type`` names.
TYPES = (TaskType.HTTP, TaskType.GRPC, TaskType.SHELL)
#: Column -> the API field name an update report lists (the others are the camelCase column names).
FIELD_NAMES = {"cron_expression": "cron", "max_retry": "retryCount"}
#: Columns holding JSON as text: compared as parsed values, so key order in the file does not matter.
JSON_TEXT_COLUMNS = {"grpc_params"}
#: Placeholder id the spec holds while a ``department`` reference is resolved separately.
_PLACEHOLDER_DEPARTMENT = 1


@dataclass
class AppliedTask:
    """One line of the report."""

    index: int | None
    id: int | None
    name: str
    department_id: int
    department_name: str
    task_type: str
    changes: list[str] = field(default_factory=list)


@dataclass
class ApplyReport:
    dry_run: bool
    prune: bool
    created: list[AppliedTask] = field(default_factory=list)
    updated: list[AppliedTask] = field(default_factory=list)
    unchanged: list[AppliedTask] = field(default_factory=list)
    pruned: list[AppliedTask] = field(default_factory=list)


@dataclass
class _Entry:
    index: int
    task_type: str
    ref: int | str  # department id or name path, as written
    ref_field: str  # "department" or "departmentId": where an unknown department is reported
    spec: TaskSpec  # child_task_ids None: the entry lists no childTaskIds (an update keeps the task's children)

    def field_name(self, spec_field: str) -> str:
        """Where a problem of the entry is reported: ``tasks[2].retryCount``."""
        return f"tasks[{self.index}].{specs.document_name(spec_field)}"


# --- step 0: the document's shape and every entry's fields (no database access) --------------------------

def _department_ref(value: Any) -> int | str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, str) and value.strip("/ ") and len(value) <= MAX_DEPARTMENT_PATH:
        return value
    return None


REF_HELP = gettext_lazy("must be a department id (an integer) or a name path such as \"Headquarters/Ops\"")


def _parse(document: Any) -> tuple[list[_Entry], list[int | str]]:
    """Validated entries and extra department references; every invalid entry is reported (4001), with its
    index and field, before anything is looked up."""
    if isinstance(document, list):
        document = {"tasks": document}
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise errors.InvalidArgument(gettext("document: must be a mapping with `tasks` (and optionally `departments`)"))
    problems: dict[str, list[str]] = {key: [gettext("unknown field")] for key in sorted(set(document) - {"tasks",
                                                                                                 "departments"},
                                                                                key=str)}
    tasks, departments = document.get("tasks"), document.get("departments", [])
    if "tasks" not in document:
        problems["tasks"] = ["This field is required."]
    elif not isinstance(tasks, list):
        problems["tasks"] = ["must be a list of tasks"]
    elif len(tasks) > MAX_APPLY_ENTRIES:
        problems["tasks"] = [f"at most {MAX_APPLY_ENTRIES} tasks per document"]
    refs: list[int | str] = []
    if not isinstance(departments, list):
        problems["departments"] = ["must be a list of departments"]
    elif len(departments) > MAX_APPLY_ENTRIES:
        problems["departments"] = [f"at most {MAX_APPLY_ENTRIES} departments per document"]
    else:
        for k, value in enumerate(departments):
            ref = _department_ref(value)
            if ref is None:
                problems[f"departments[{k}]"] = [REF_HELP]
            refs.append(ref)  # type: ignore[arg-type]
    entries: list[_Entry] = []
    for index, raw in enumerate(tasks if isinstance(tasks, list) and "tasks" not in problems else []):
        entry = _parse_entry(index, raw, problems)
        if entry is not None:
            entries.append(entry)
    if problems:
        first, messages = next(iter(problems.items()))
        raise errors.InvalidArgument(gettext("%(field)s: %(message)s") % {"field": first, "message": messages[0]},
                                     fields=problems)
    return entries, refs


def _parse_entry(index: int, raw: Any, problems: dict[str, list[str]]) -> _Entry | None:
    prefix = f"tasks[{index}]"
    if not isinstance(raw, dict):
        problems[prefix] = ["must be a mapping (one task)"]
        return None
    body = dict(raw)
    kind = body.pop("type", TaskType.HTTP)
    if not isinstance(kind, str) or kind.upper() not in TYPES:
        problems[f"{prefix}.type"] = [f"must be one of {', '.join(TYPES)}"]
        return None
    kind = kind.upper()
    ref_field, ref = "departmentId", None
    if "department" in body:
        ref_field, ref = "department", _department_ref(body.pop("department"))
        if "departmentId" in body:
            problems[f"{prefix}.department"] = ["give department or departmentId, not both"]
            return None
        if ref is None:
            problems[f"{prefix}.department"] = [REF_HELP]
            return None
        body["departmentId"] = _PLACEHOLDER_DEPARTMENT
    values, unknown = specs.document_values(kind, body)
    if unknown:
        problems.update({f"{prefix}.{key}": messages for key, messages in unknown.items()})
        return None
    try:
        spec = TaskSpec.from_values(kind, values)
    except errors.InvalidArgument as exc:
        for key, messages in (exc.fields or {}).items():
            problems[f"{prefix}.{specs.document_name(key)}"] = list(messages)
        return None
    return _Entry(index=index, task_type=kind, ref=spec.department_id if ref is None else ref, ref_field=ref_field,
                  spec=spec)


# --- step 1: the plan ---------------------------------------------------------------------------------

class _Departments:
    """Every department's id, parent and name, to resolve name paths. Lookups are unscoped; the caller
    checks the result against the actor's scope, and an unknown and a foreign department read the same."""

    def __init__(self) -> None:
        rows = list(Department.objects.values_list("id", "parent_id", "name"))
        self.names = {pk: name for pk, _, name in rows}
        self.children: dict[tuple[int | None, str], list[int]] = {}
        for pk, parent_id, name in rows:
            self.children.setdefault((parent_id, name), []).append(pk)

    def resolve(self, ref: int | str) -> int | None:
        if isinstance(ref, int):
            return ref if ref in self.names else None
        parent: int | None = None
        for part in [p.strip() for p in ref.strip("/ ").split("/")]:
            found = self.children.get((parent, part), [])
            if len(found) != 1:  # missing, or two top-level departments of that name: use the id
                return None
            parent = found[0]
        return parent


@dataclass
class _Step:
    action: str  # create | update | unchanged
    entry: _Entry
    spec: TaskSpec  # the entry's, in its resolved department
    task: Task | None = None
    changes: list[str] = field(default_factory=list)


def _changes(task: Task, values: dict[str, Any]) -> list[str]:
    changed = []
    for column, new in values.items():
        old = getattr(task, column)
        if column in JSON_TEXT_COLUMNS and old is not None and new is not None:
            try:
                old, new = json.loads(old), json.loads(new)
            except ValueError:  # a row written around the API; the update rewrites it
                pass
        if old != new:
            changed.append(FIELD_NAMES.get(column) or camel(column))
    return changed


def _plan(actor: Actor, entries: list[_Entry], refs: list[int | str], prune: bool, lock: bool,
          departments: _Departments) -> tuple[list[_Step], list[Task]]:
    user = actor.user
    if prune:
        require_permission(user, "task:delete")
    scope = department_scope_ids(user)
    resolved = [departments.resolve(e.ref) for e in entries]
    prune_departments: set[int] = {d for d in resolved if d is not None and d in scope}
    for k, ref in enumerate(refs):
        dept_id = departments.resolve(ref)
        if dept_id is None or dept_id not in scope:
            raise errors.invalid(f"departments[{k}]", gettext("department %(ref)s not found") % {"ref": ref})
        prune_departments.add(dept_id)
    touched = sorted(prune_departments)
    if lock:  # concurrent applies to the same departments run one after the other
        list(Department.objects.select_for_update().filter(pk__in=touched).values_list("id", flat=True))
    existing = Task.objects.restrict(user).filter(department_id__in=touched).order_by("id")
    if lock:
        existing = existing.select_for_update()
    by_key: dict[tuple[int, str], list[Task]] = {}
    for task in existing:
        by_key.setdefault((task.department_id, task_name_key(task.name)), []).append(task)

    steps: list[_Step] = []
    seen: dict[tuple[int, str], int] = {}
    for entry, dept_id in zip(entries, resolved):
        prefix = f"tasks[{entry.index}]"
        name = entry.spec.name
        inside = dept_id is not None and dept_id in scope
        if inside:
            key = (dept_id, task_name_key(name))  # names are unique per department ignoring case
            if key in seen:
                raise errors.invalid(f"{prefix}.name",
                                     gettext("tasks[%(seen)s] already declares %(name)r in this department")
                                     % {"seen": seen[key], "name": name})
            seen[key] = entry.index
        matches = by_key.get((dept_id, task_name_key(name)), []) if inside else []
        if len(matches) > 1:
            raise errors.Conflict(gettext("%(prefix)s: department %(ref)s holds %(matches_count)s tasks named "
                                          "%(name)r (ids %(ids)s); rename or delete all but one")
                                  % {"prefix": prefix, "ref": entry.ref, "matches_count": len(matches), "name": name,
                                     "ids": ", ".join(str(t.pk) for t in matches)})
        if matches:
            task = matches[0]
            spec = entry.spec.with_department(dept_id)
            require_permission(user, "task:update")
            if task.task_type != entry.task_type:
                raise errors.invalid(f"{prefix}.type", gettext("task %(task_id)s is a %(task_type)s task; its type "
                                                               "cannot change (delete it, or rename the entry)")
                                                       % {"task_id": task.pk, "task_type": task.task_type})
            if entry.task_type == TaskType.SHELL:
                services.require_shell(actor, gettext("change a SHELL task"))
            changes = _changes(task, spec.columns())
            if spec.child_task_ids is not None and list(spec.child_task_ids) != [
                    link.child_id for link in task.child_links.order_by("position", "id")]:
                changes.append("childTaskIds")  # ids only; `children` by name is not supported (docs)
            steps.append(_Step("update" if changes else "unchanged", entry, spec, task, changes))
        else:
            # the order of task_create: permission, SHELL rules, then the department (4001 if foreign)
            require_permission(user, "task:create")
            if entry.task_type == TaskType.SHELL:
                services.require_shell(actor, "create a SHELL task")
            if not inside:
                raise errors.invalid(f"{prefix}.{entry.ref_field}", gettext("department %(ref)s not found")
                                                                    % {"ref": entry.ref})
            steps.append(_Step("create", entry, entry.spec.with_department(dept_id)))
    listed = {step.task.pk for step in steps if step.task is not None}
    doomed = [task for task in existing if task.pk not in listed] if prune else []
    return steps, doomed


# --- step 2: the writes -------------------------------------------------------------------------------

def tasks_apply(*, actor: Actor, document: Any, dry_run: bool = False, prune: bool = False) -> ApplyReport:
    """Create, update (and with ``prune`` delete) tasks so that they match ``document``, as ``actor``.

    Permissions: ``task:create`` for each new task, ``task:update`` for each existing one (also when it is
    unchanged), ``task:delete`` whenever ``prune`` is asked; SHELL entries also ``task:shell``. Departments
    must lie in the actor's scope (else 4001 "department ... not found", as for a single create)."""
    validation.check_value(document)  # the YAML of apply_tasks and scheduler.jobs too, not only REST bodies
    entries, refs = _parse(document)
    report = ApplyReport(dry_run=dry_run, prune=prune)
    with transaction.atomic():
        if not dry_run and any(entry.spec.child_task_ids is not None for entry in entries):
            services.graph_lock()  # before the plan locks task rows: the order every child-graph edit takes
        departments = _Departments()
        steps, doomed = _plan(actor, entries, refs, prune, lock=not dry_run, departments=departments)
        for step in steps:
            entry, task = step.entry, step.task
            with errors.field_names(entry.field_name):
                if step.action == "create" and not dry_run:
                    task = services.task_create(actor=actor, spec=step.spec)
                elif step.action == "update" and not dry_run:
                    task = services.task_update(actor=actor, task_id=task.pk, spec=step.spec)
            line = AppliedTask(index=entry.index, id=task.pk if task else None, name=step.spec.name,
                               department_id=step.spec.department_id,
                               department_name=departments.names[step.spec.department_id],
                               task_type=entry.task_type, changes=step.changes)
            {"create": report.created, "update": report.updated, "unchanged": report.unchanged}[step.action] \
                .append(line)
        for task in doomed:
            if not dry_run:
                services.task_delete(actor=actor, task_id=task.pk)
            report.pruned.append(AppliedTask(index=None, id=task.pk, name=task.name, department_id=task.department_id,
                                             department_name=departments.names[task.department_id],
                                             task_type=task.task_type))
    return report


# --- export and YAML text (the console's Export / Import, GET /tasks/export, POST /tasks/import) --------------

#: Most tasks one export names (one apply document holds at most MAX_APPLY_ENTRIES entries).
MAX_EXPORT_IDS = MAX_APPLY_ENTRIES


def task_entry(task: Task, department: int | str) -> dict[str, Any]:
    """The entry that makes exactly ``task`` when applied: every field of its type, defaults included, with the
    names of the task routes' bodies (``department``: an id, or a name path that resolves to the task's
    department). Applied where the task exists, the entry is ``unchanged``; applied after the task was deleted,
    it creates a task with the same columns and children."""
    entry: dict[str, Any] = {"name": task.name, "type": task.task_type}
    entry["departmentId" if isinstance(department, int) else "department"] = department
    if task.description:
        entry["description"] = task.description
    entry.update({"cron": task.cron_expression, "timezone": task.timezone, "status": int(task.status)})
    if task.task_type == TaskType.HTTP:
        entry.update({"url": task.url, "httpMethod": task.http_method})
        if task.headers:
            entry["headers"] = dict(task.headers)
        if task.body is not None:
            entry["body"] = task.body
        if task.fallback_url:
            entry["fallbackUrl"] = task.fallback_url
        entry["routeStrategy"] = task.route_strategy
    elif task.task_type == TaskType.GRPC:
        entry.update({"grpcService": task.grpc_service, "grpcMethod": task.grpc_method})
        if task.grpc_params:
            try:
                entry["grpcParams"] = json.loads(task.grpc_params)
            except ValueError:  # a row written around the API: as stored (apply then reports it)
                entry["grpcParams"] = task.grpc_params
        if task.fallback_grpc_service:
            entry["fallbackGrpcService"] = task.fallback_grpc_service
        if task.fallback_grpc_method:
            entry["fallbackGrpcMethod"] = task.fallback_grpc_method
        entry["routeStrategy"] = task.route_strategy
    elif task.task_type == TaskType.SHELL:
        entry.update({"shellCommand": task.shell_command, "shellArgs": list(task.shell_args or [])})
        if task.shell_workdir:
            entry["shellWorkdir"] = task.shell_workdir
        if task.shell_env:
            entry["shellEnv"] = dict(task.shell_env)
    entry.update({"timeout": task.timeout, "retryCount": task.max_retry, "retryInterval": task.retry_interval,
                  "concurrencyPolicy": task.concurrency_policy, "misfirePolicy": task.misfire_policy,
                  "childTaskIds": [link.child_id for link in task.child_links.all()]})
    return entry


def _department_refs(user, department_ids: set[int]) -> dict[int, int | str]:
    """How the export names each department: its name path from the top when the user's scope holds every
    department of the path (a user below the top does not learn the names above their scope) and the path
    resolves to it, else its id."""
    departments = _Departments()
    parents = dict(Department.objects.values_list("id", "parent_id"))
    scope = department_scope_ids(user)
    refs: dict[int, int | str] = {}
    for dept_id in department_ids:
        path, node, seen = [], dept_id, set()
        while node is not None and node not in seen:
            seen.add(node)
            path.append(node)
            node = parents.get(node)
        names = [departments.names.get(pk, "") for pk in reversed(path)]
        text = "/".join(names)
        usable = (node is None and all(pk in scope for pk in path) and all(n and "/" not in n for n in names)
                  and departments.resolve(text) == dept_id)
        refs[dept_id] = text if usable else dept_id
    return refs


class _ExportDumper(yaml.SafeDumper):
    """Plain YAML: no anchors or aliases (the import refuses them), strings that look like numbers quoted."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def tasks_export(*, user, task_ids: list[int]) -> tuple[str, list[Task]]:
    """The declarative YAML document (docs/djsctl.md) of the given tasks, in id order, and the tasks. Needs
    ``task:view``; a task outside the scope and a missing one answer the same 4004 (``fields.ids`` names it)."""
    tasks = list(Task.objects.restrict(user, "task:view").filter(pk__in=task_ids).order_by("id")
                 .prefetch_related("child_links"))
    found = {task.pk for task in tasks}
    missing = [pk for pk in task_ids if pk not in found]
    if missing:
        raise errors.NotFound(str(NOT_FOUND_MESSAGES["task"]),
                              fields={"ids": [gettext("task %(task_id)s not found") % {"task_id": missing[0]}]})
    refs = _department_refs(user, {task.department_id for task in tasks})
    document = {"tasks": [task_entry(task, refs[task.department_id]) for task in tasks]}
    text = yaml.dump(document, Dumper=_ExportDumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                     width=120)
    header = ("# DJS tasks (docs/djsctl.md \"Declarative tasks\"): djsctl tasks apply FILE, manage.py apply_tasks FILE\n"
              "# or Import on the console's task list. (department, name) identifies a task.\n")
    return header + text, tasks


class _ImportLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: an alias may repeat a subtree exponentially (a "billion laughs"
    document), which the document checks would then walk."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not supported", event.start_mark)
        return super().compose_node(parent, index)


def parse_document(text: str, field_name: str = "document") -> Any:
    """A YAML (or JSON) document as apply takes it; invalid YAML answers 4001 on ``field_name`` with the line."""
    try:
        return yaml.load(text, Loader=_ImportLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = (gettext("line %(line)s, column %(column)s: ") % {"line": mark.line + 1, "column": mark.column + 1}
                 if mark is not None else "")
        problem = getattr(exc, "problem", None) or str(exc)
        raise errors.invalid(field_name, gettext("not valid YAML: %(where)s%(problem)s")
                                         % {"where": where, "problem": problem}) from None
    except RecursionError:
        raise errors.invalid(field_name, gettext("not valid YAML: nested too deeply")) from None
