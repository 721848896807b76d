"""What the tasks app checks when a department moves (registered with ``apps.departments.services.register_move_check``
in ``TasksConfig.ready``): a child task must stay in its parent task's department or below (docs/child-tasks.md)."""
from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from apps.tasks.models import TaskChild
from djs_platform import errors
from djs_platform.tenancy import descendants_of

#: Most stranded child-task links a refused move names in its message.
MAX_LISTED_LINKS = 20


def check_department_move(dept, parent_id: int | None, edges: list[tuple[int, int | None]]) -> None:
    """A child task must stay in its parent task's department or below (docs/child-tasks.md). Moving a
    department moves its tasks: refuse (4009, listing them) a move that would put a child task outside its
    parent task's subtree, which would hand the parent's department a way to run another tenant's task."""
    moved = descendants_of(dept.pk, edges)
    after = [(dept_id, parent_id if dept_id == dept.pk else parent) for dept_id, parent in edges]
    below: dict[int, frozenset[int]] = {}
    stranded = []
    links = (TaskChild.objects.filter(Q(child__department_id__in=moved) | Q(parent__department_id__in=moved))
             .order_by("parent_id", "position", "id")
             .values_list("parent_id", "parent__name", "parent__department_id", "child_id", "child__name",
                          "child__department_id"))
    for parent_task, parent_name, parent_dept, child_task, child_name, child_dept in links:
        if parent_dept not in below:
            below[parent_dept] = descendants_of(parent_dept, after)
        if child_dept not in below[parent_dept]:
            stranded.append(f"task {parent_task} ({parent_name}) -> task {child_task} ({child_name})")
    if stranded:
        listed = "; ".join(stranded[:MAX_LISTED_LINKS])
        more = f" and {len(stranded) - MAX_LISTED_LINKS} more" if len(stranded) > MAX_LISTED_LINKS else ""
        raise errors.Conflict(_("moving department %(dept_id)s (%(name)s) would leave child tasks outside their "
                                "parent task's department scope: %(listed)s%(more)s; remove those links or move the "
                                "tasks first")
                              % {"dept_id": dept.pk, "name": dept.name, "listed": listed, "more": more})
