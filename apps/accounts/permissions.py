"""The permission catalogue (the accounts app's seed data): every code the platform checks, its English name
(seeded into ``permission``) and description, and its label in the request's language."""
from __future__ import annotations

from django.utils.translation import gettext_lazy

ALL_PERMISSIONS: list[tuple[str, str, str]] = [
    ("task:view", "View tasks", "See tasks in the department scope"),
    ("task:create", "Create tasks", "Create tasks"),
    ("task:update", "Update tasks", "Edit tasks and enable/disable them"),
    ("task:delete", "Delete tasks", "Delete tasks"),
    ("task:execute", "Execute tasks", "Run tasks now and kill running executions"),
    ("record:view", "View records", "See execution records and statistics"),
    ("department:manage", "Manage departments", "Create, edit and delete departments"),
    ("user:manage", "Manage users", "Create, edit, disable and delete users"),
    ("role:manage", "Manage roles", "Create, edit and delete roles"),
    ("system:manage", "Manage the system", "Nodes, maintenance, retention, audit log"),
    ("task:shell", "Shell tasks", "Create and edit SHELL tasks"),
    # the executor registry (issue 19; apps/executors/migrations/0002 adds them to existing installs)
    ("executor:view", "View executors", "See the executor registry of the department scope"),
    ("executor:manage", "Manage executors", "Create, edit and delete static and DNS executor entries"),
    ("executor:register", "Register executors", "Register and deregister executors (service accounts)"),
]
PERMISSION_CODES = frozenset(code for code, _, _ in ALL_PERMISSIONS)
#: The ``label`` of a permission code in the request's language (GET /permissions, role details; docs/i18n.md):
#: the English label is the seeded name. Codes never change with the language.
PERMISSION_LABELS = {
    "task:view": gettext_lazy("View tasks"), "task:create": gettext_lazy("Create tasks"),
    "task:update": gettext_lazy("Update tasks"), "task:delete": gettext_lazy("Delete tasks"),
    "task:execute": gettext_lazy("Execute tasks"), "record:view": gettext_lazy("View records"),
    "department:manage": gettext_lazy("Manage departments"), "user:manage": gettext_lazy("Manage users"),
    "role:manage": gettext_lazy("Manage roles"), "system:manage": gettext_lazy("Manage the system"),
    "task:shell": gettext_lazy("Shell tasks"), "executor:view": gettext_lazy("View executors"),
    "executor:manage": gettext_lazy("Manage executors"), "executor:register": gettext_lazy("Register executors"),
}


def permission_label(code: str, name: str = "") -> str:
    """The permission's name in the active language; a code without a label keeps its stored name."""
    label = PERMISSION_LABELS.get(code)
    return str(label) if label is not None else (name or code)
