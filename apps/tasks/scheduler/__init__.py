"""The scheduler (docs/scheduling.md): ``node`` is the loop; ``repository`` its SQL; ``recovery``, ``results``
and ``children`` what happens around a fire; ``listeners`` the hooks other apps register."""
from apps.tasks.scheduler import clock  # noqa: F401  (first: the other modules read the clock through it)
from apps.tasks.scheduler.fires import TASK_FIELDS, Fire
from apps.tasks.scheduler.node import Node, start_in_thread

__all__ = ["TASK_FIELDS", "Fire", "Node", "start_in_thread"]
