"""``PolicySpec``: the typed input of ``policy_create`` and ``policy_update`` (issue 18).

The REST routes (``POST /alert-policies``, ``PUT /alert-policies/{id}``) map their camelCase body onto it; its
checks are every rule of a policy's input: types and ranges (worded as the REST fields were,
:mod:`djs_platform.inputs`), the webhook URL (the tasks' URL rule and save-time egress check,
:mod:`apps.tasks.specs`), e-mail addresses, and which scope the policy is for. Field problems are keyed by the
spec's field names (``webhook_url``); the API's names are their camelCase (``webhookUrl``).

A field left out is :data:`~djs_platform.inputs.MISSING`: a create takes the model's default, an update keeps
the policy's value. Whether the resulting policy can alert at all (a channel and a condition) depends on the
stored policy too, so the services check it after merging.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext

from apps.tasks.specs import MAX_URL, egress_problem, http_url_problem
from djs_platform import errors, inputs, validation
from djs_platform.inputs import MISSING, Invalid, Missing, Problems

MAX_EMAILS = 20
MAX_EMAIL = 254
MAX_SECRET = 255
MAX_CONSECUTIVE = 1000
MAX_OVERRUN = 7 * 86400
MAX_LAG = 86400
MAX_COOLDOWN = 86400

#: The editable fields, in the order their problems are reported (shared by create and update).
EDITABLE = ("enabled", "on_failure", "consecutive_failures", "auto_pause", "overrun_seconds", "lag_seconds",
            "webhook_url", "webhook_secret", "emails", "cooldown_seconds")
#: What a create names besides: the task (its own policy) or the department (the default of its tasks).
SCOPE = ("task_id", "department_id")


def api_name(spec_field: str) -> str:
    """The REST name of a spec field (``webhook_url`` -> ``webhookUrl``), a suffix such as ``.0`` kept."""
    head, _, rest = spec_field.partition(".")
    first, *others = head.split("_")
    return first + "".join(part.title() for part in others) + (f".{rest}" if rest else "")


def _emails(value: Any) -> list[str] | None:
    addresses = inputs.items(value, lambda item: inputs.text(item, max_length=MAX_EMAIL), max_length=2**31,
                             null=True)
    if addresses is None:
        return None
    for address in addresses:
        try:
            validate_email(address)
        except DjangoValidationError:
            raise Invalid(gettext("%(address)r is not an e-mail address") % {"address": address}) from None
    if len({a.lower() for a in addresses}) != len(addresses):
        raise Invalid(gettext("lists an address more than once"))
    if len(addresses) > MAX_EMAILS:
        raise Invalid(gettext("Ensure this field has no more than %(max_emails)s elements.")
                      % {"max_emails": MAX_EMAILS})
    return addresses or None


def _webhook_url(value: Any) -> str | None:
    url = inputs.text(value, max_length=MAX_URL, blank=True, null=True)
    if not url:
        return None
    problem = http_url_problem(url) or egress_problem(urlsplit(url).hostname)
    if problem:
        raise Invalid(problem)
    return url


_CHECKS = {
    "enabled": inputs.boolean,
    "on_failure": inputs.boolean,
    "consecutive_failures": lambda v: inputs.integer(v, min_value=0, max_value=MAX_CONSECUTIVE),
    "auto_pause": inputs.boolean,
    "overrun_seconds": lambda v: inputs.integer(v, min_value=1, max_value=MAX_OVERRUN, null=True),
    "lag_seconds": lambda v: inputs.integer(v, min_value=1, max_value=MAX_LAG, null=True),
    "webhook_url": _webhook_url,
    "webhook_secret": lambda v: inputs.text(v, max_length=MAX_SECRET, blank=True, trim=False),
    "emails": _emails,
    "cooldown_seconds": lambda v: inputs.integer(v, min_value=0, max_value=MAX_COOLDOWN, null=True),
    "task_id": lambda v: inputs.integer(v, min_value=1),
    "department_id": lambda v: inputs.integer(v, min_value=1),
}


@dataclass(frozen=True)
class PolicySpec:
    """An alert policy as a write gives it. ``task_id`` or ``department_id`` (a create names exactly one);
    ``webhook_secret`` ``""`` removes the secret; ``emails`` None = no addresses."""

    task_id: int | Missing = MISSING
    department_id: int | Missing = MISSING
    enabled: bool | Missing = MISSING
    on_failure: bool | Missing = MISSING
    consecutive_failures: int | Missing = MISSING
    auto_pause: bool | Missing = MISSING
    overrun_seconds: int | None | Missing = MISSING
    lag_seconds: int | None | Missing = MISSING
    webhook_url: str | None | Missing = MISSING
    webhook_secret: str | Missing = MISSING
    emails: list[str] | None | Missing = MISSING
    cooldown_seconds: int | None | Missing = MISSING

    @classmethod
    def from_values(cls, values: Mapping[str, Any], *, create: bool) -> PolicySpec:
        """Check untyped ``values`` (spec field names) of a create (which names its scope) or an update (which
        cannot move a policy). Raises :class:`~djs_platform.errors.InvalidArgument` naming every offending
        field."""
        own = EDITABLE + (SCOPE if create else ())
        unknown = inputs.unknown_fields(values, own)
        if unknown:
            first = next(iter(unknown))
            raise errors.InvalidArgument(gettext("%(field)s: unknown field") % {"field": first},
                                         fields=unknown)
        validation.check_value(dict(values))
        problems = Problems()
        out = {name: problems.check(name, values.get(name, MISSING), _CHECKS[name]) for name in own}
        problems.raise_if_any()
        if create:
            if out["task_id"] is not MISSING and out["department_id"] is not MISSING:
                raise errors.invalid("department_id", gettext("give taskId (a task's policy) or departmentId (a "
                                                              "department default), not both"))
            if out["task_id"] is MISSING and out["department_id"] is MISSING:
                raise errors.invalid("task_id", gettext("give taskId (a task's policy) or departmentId (a department "
                                                "default)"))
        return cls(**out)

    def values(self) -> dict[str, Any]:
        """Every field this spec sets, as :meth:`from_values` takes them."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not MISSING}

    def checked(self, *, create: bool) -> PolicySpec:
        """The same spec, checked (a spec may be constructed directly; the checks are cheap and idempotent)."""
        return PolicySpec.from_values(self.values(), create=create)

    def given(self) -> dict[str, Any]:
        """The editable fields this write sets (the others keep their value)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name in EDITABLE and getattr(self, f.name) is not MISSING}
