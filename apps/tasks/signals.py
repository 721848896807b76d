"""Signals other apps subscribe to (the tasks app never imports them)."""
from django.dispatch import Signal

#: Sent inside the transaction of an update that moved a task to another department (``task``: the saved task).
#: The alerts app moves the task's own alert policy with it (issue 16, finding 6a).
task_moved = Signal()
