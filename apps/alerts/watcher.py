"""The alerts side of a scheduler node: a scheduler listener (``apps.tasks.scheduler.listeners``) that
``AlertsConfig.ready()`` registers, so every node creates one for itself; cheap checks on the event loop,
database work on its own thread.

Each hook is a couple of dict lookups when no policy covers the task, so nodes without alert policies pay
nothing measurable per fire:

- :meth:`AlertWatcher.on_fire_started` when an execution starts (lag; remembers it for the overrun check);
- :meth:`AlertWatcher.on_results_flushed` once a batch of results is committed (failures: the record is in
  the database, so the consecutive-failure count sees it; only the node that ran a fire alerts its failure);
- :meth:`AlertWatcher.on_tick` every poll (policy cache refresh every :data:`REFRESH` s, overrun scan).

Events go through a bounded queue (``alerts.queueSize``; a full queue drops and counts) to two consumers
that open the alert on the alerts thread (:func:`~apps.alerts.services.open_alert`), deliver it (webhook
through the node's HTTP executor, e-mail in a worker thread) and store the outcome. On shutdown the node
gives the queue :data:`DRAIN_SECONDS` to empty.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from django.conf import settings

from apps.alerts import services
from apps.alerts.models import AlertKind
from apps.alerts.services import AlertEvent, PolicySnapshot
from apps.records.models import RecordStatus, TriggerType
from djs_platform import metrics

from apps.tasks.scheduler.threads import DbThread

if TYPE_CHECKING:
    from apps.tasks.scheduler.fires import Fire
    from apps.tasks.scheduler.listeners import NodeView

log = logging.getLogger("djs.alerts")

REFRESH = 5.0        # seconds between policy cache reloads
CONSUMERS = 2
DRAIN_SECONDS = 5.0


class AlertWatcher:
    def __init__(self, node: "NodeView", db: Any = None):
        self.node = node
        self.db = db or DbThread("djs-alerts")  # its own connection
        self.enabled = bool(settings.DJS_ALERTS.enabled)
        self.by_task: dict[int, PolicySnapshot] = {}
        self.by_department: dict[int, PolicySnapshot] = {}
        self.loaded_at = float("-inf")
        self.loading: asyncio.Task | None = None
        self.queue: asyncio.Queue[AlertEvent] | None = None
        self.consumers: list[asyncio.Task] = []
        self.overrun: dict[tuple[int, int, int], tuple["Fire", datetime, PolicySnapshot]] = {}  # Fire.key -> running fire
        self.stats = {"events": 0, "dropped": 0, "opened": 0}

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.enabled:
            return
        self.queue = asyncio.Queue(maxsize=max(1, settings.DJS_ALERTS.queue_size))
        await self._load()
        self.consumers = [asyncio.create_task(self._consume()) for _ in range(CONSUMERS)]

    async def close(self) -> None:
        if self.queue is not None:
            with contextlib.suppress(TimeoutError):  # what is queued or being delivered, for a bounded time
                await asyncio.wait_for(self.queue.join(), DRAIN_SECONDS)
        for task in self.consumers + ([self.loading] if self.loading else []):
            task.cancel()
        for task in self.consumers:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        self.consumers = []
        self.db.shutdown()

    # --- hooks (event loop; must stay cheap) ----------------------------------------------------

    def policy(self, task: dict[str, Any]) -> PolicySnapshot | None:
        if not self.by_task and not self.by_department:
            return None
        policy = self.by_task.get(task["id"]) or self.by_department.get(task["department_id"])
        return policy if policy is not None and policy.enabled else None

    def on_fire_started(self, fire: "Fire", started: datetime) -> None:
        policy = self.policy(fire.task)
        if policy is None:
            return
        if policy.lag_seconds and fire.trigger == TriggerType.SCHEDULE:
            lag = (started - fire.scheduled).total_seconds()
            if lag > policy.lag_seconds:
                self._submit(self._event(AlertKind.LAG, policy, fire, started=started, seconds=lag))
        if policy.overrun_seconds:
            self.overrun[fire.key] = (fire, started, policy)

    def on_results_flushed(self, batch: list[tuple["Fire", dict[str, Any]]]) -> None:
        if not self.by_task and not self.by_department and not self.overrun:
            return
        for fire, result in batch:
            self.overrun.pop(fire.key, None)
            if result["status"] != RecordStatus.FAILED:
                continue
            policy = self.policy(fire.task)
            if policy is not None and policy.watches_failures:
                self._submit(self._event(AlertKind.FAILURE, policy, fire, started=result.get("start_time"),
                                         status=result["status"], error=result.get("error"),
                                         status_code=result.get("status_code"),
                                         retry_times=result.get("retry_times") or 0))

    def on_tick(self) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.loaded_at >= REFRESH and (self.loading is None or self.loading.done()):
            self.loaded_at = now
            self.loading = asyncio.create_task(self._load())
        if self.overrun:
            wall = datetime.now(timezone.utc)
            for key, (fire, started, policy) in list(self.overrun.items()):
                if not self.node.is_running(key) or fire.handle is None or fire.handle.done():
                    self.overrun.pop(key, None)
                    continue
                running = (wall - started).total_seconds()
                if running > (policy.overrun_seconds or 0):
                    self.overrun.pop(key, None)  # one overrun alert per execution
                    self._submit(self._event(AlertKind.OVERRUN, policy, fire, started=started, seconds=running))

    # --- internals ------------------------------------------------------------------------------

    def _event(self, kind: str, policy: PolicySnapshot, fire: "Fire", **fields: Any) -> AlertEvent:
        year, month = fire.table
        task = fire.task
        return AlertEvent(kind=kind, policy_id=policy.id, task={"id": task["id"], "name": task["name"],
                                                               "department_id": task["department_id"]},
                          record_id=fire.record_id, year=year, month=month, trigger=str(fire.trigger),
                          scheduled=fire.scheduled, node=self.node.name, **fields)

    def _submit(self, event: AlertEvent) -> None:
        if self.queue is None:
            return
        self.stats["events"] += 1
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.stats["dropped"] += 1
            metrics.alert_events_dropped.inc()
            log.warning("alert queue full (alerts.queueSize): dropped a %s event of task %s", event.kind,
                        event.task["id"])

    async def _load(self) -> None:
        try:
            self.by_task, self.by_department = await self.db.run(services.load_policies)
        except Exception:  # noqa: BLE001 - keep the last known policies; the next refresh retries
            log.exception("could not load alert policies")

    async def _consume(self) -> None:
        assert self.queue is not None
        while True:
            event = await self.queue.get()
            try:
                opened = await self.db.run(services.open_alert, event)
                if opened is not None:
                    alert, channels, payload = opened
                    self.stats["opened"] += 1
                    http = self.node.executors.http if self.node.executors else None
                    deliveries = await services.deliver(channels, payload, http=http)
                    await self.db.run(services.close_alert, alert.pk, deliveries)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad alert must not stop the others
                log.exception("alert for task %s (%s) failed", event.task["id"], event.kind)
            finally:
                self.queue.task_done()
