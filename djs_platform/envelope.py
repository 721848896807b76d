"""The ``/v1`` response envelope, pagination and the single REST exception handler."""
from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import DisallowedHost, RequestDataTooBig, TooManyFieldsSent
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions
from rest_framework import parsers, renderers, serializers
from rest_framework.response import Response
from rest_framework.utils.json import strict_constant

from djs_platform import errors, validation

log = logging.getLogger("djs.api")


def ok(data: Any = None, status: int = 200) -> Response:
    return Response({"code": 0, "message": "success", "data": data}, status=status)


def error_body(exc: errors.ApplicationError) -> dict[str, Any]:
    """The error envelope; its message and field errors in the request's language (docs/i18n.md)."""
    data = {"fields": errors.text(exc.fields)} if exc.fields else None
    return {"code": exc.code, "message": str(exc.message), "data": data}


def _flatten_detail(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF error detail (nested dicts/lists) -> {"field.sub": ["message", ...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "non_field_errors" if key == "non_field_errors" else str(key)
            out.update(_flatten_detail(value, f"{prefix}.{name}" if prefix else name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                out.update(_flatten_detail(item, f"{prefix}[{index}]"))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def validation_error(detail: Any) -> errors.InvalidArgument:
    fields = _flatten_detail(detail)
    first_field, messages = next(iter(fields.items()))
    label = "request" if first_field == "non_field_errors" else first_field
    return errors.InvalidArgument(_("%(field)s: %(message)s") % {"field": label, "message": messages[0]},
                                  fields=fields)


def to_application_error(exc: BaseException) -> errors.ApplicationError | None:
    """Map framework exceptions onto the DJS vocabulary; ``None`` means unexpected (500)."""
    if isinstance(exc, errors.ApplicationError):
        return exc
    if isinstance(exc, (serializers.ValidationError, drf_exceptions.ValidationError)):
        return validation_error(exc.detail)
    if isinstance(exc, RequestDataTooBig):
        return errors.InvalidArgument(_("request body too large: at most %(limit)s bytes")
                                      % {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    if isinstance(exc, TooManyFieldsSent):
        return errors.InvalidArgument(_("too many fields in the request"))
    if isinstance(exc, drf_exceptions.ParseError):
        return errors.InvalidArgument(_("malformed request body: %(detail)s") % {"detail": exc.detail})
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return errors.InvalidArgument(_("unsupported content type: send application/json"))
    if isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
        return errors.Unauthenticated(str(exc.detail) if isinstance(exc.detail, str) else None)
    if isinstance(exc, (drf_exceptions.PermissionDenied, DjangoPermissionDenied)):
        return errors.Forbidden()
    if isinstance(exc, (drf_exceptions.NotFound, Http404)):
        return errors.NotFound()
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return errors.MethodNotAllowed(str(exc.detail))
    if isinstance(exc, drf_exceptions.NotAcceptable):
        return errors.InvalidArgument(_("not acceptable: this API answers application/json"))
    if isinstance(exc, drf_exceptions.Throttled):
        return errors.TooManyRequests(retry_after=int(exc.wait or 1))
    if isinstance(exc, DatabaseError):
        return errors.ServiceUnavailable(_("database unavailable, please retry"))
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    app_exc = to_application_error(exc)
    if app_exc is None:
        log.exception("unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        app_exc = errors.InternalError()
    elif isinstance(app_exc, errors.ServiceUnavailable):
        log.error("dependency unavailable: %s", exc)
    response = Response(error_body(app_exc), status=app_exc.http_status)
    if isinstance(app_exc, errors.Unauthenticated):
        response["WWW-Authenticate"] = 'Bearer realm="djs"'
    if isinstance(app_exc, errors.TooManyRequests) and app_exc.retry_after:
        response["Retry-After"] = str(app_exc.retry_after)
    return response


def json_error(exc: errors.ApplicationError) -> JsonResponse:
    return JsonResponse(error_body(exc), status=exc.http_status, json_dumps_params={"ensure_ascii": False})


# --- JSON everywhere (docs/api.md "Envelope and errors"): what Django itself would render as HTML -------------

@csrf_exempt  # also the catch-all routes: an unknown POST/PUT/DELETE gets 4004, not Django's HTML CSRF page
def handler404(request, exception=None) -> JsonResponse:  # noqa: ARG001 - Django signature
    return json_error(errors.NotFound(_("no route for %(method)s %(path)s")
                                      % {"method": request.method, "path": request.path}))


def handler400(request, exception=None) -> JsonResponse:  # noqa: ARG001 - Django signature
    """A ``SuspiciousOperation`` outside DRF (a malformed ``Host`` header, too many fields): 4001. The exception's
    text (which quotes the header) is not echoed."""
    mapped = to_application_error(exception) if exception is not None else None
    if isinstance(mapped, errors.InvalidArgument):
        return json_error(mapped)
    if isinstance(exception, DisallowedHost):
        return json_error(errors.InvalidArgument(_("bad request: invalid Host header")))
    return json_error(errors.InvalidArgument(_("bad request")))


def handler403(request, exception=None) -> JsonResponse:  # noqa: ARG001 - Django signature
    return json_error(errors.Forbidden())


def handler500(request) -> JsonResponse:  # noqa: ARG001
    return json_error(errors.InternalError())


def csrf_failure(request, reason: str = "") -> JsonResponse:  # noqa: ARG001 - settings.CSRF_FAILURE_VIEW
    """Every route is CSRF-exempt today (bearer tokens); a cookie-authenticated view added later that fails the
    check answers 4003 in the envelope instead of Django's HTML page."""
    return json_error(errors.Forbidden(_("CSRF check failed: send the bearer token, not a session cookie")))


def only_methods(view, methods: tuple[str, ...] = ("GET", "HEAD")):
    """Wrap a view that is not a JSON API view (metrics, Swagger UI, the schema): other methods answer 4005 in the
    envelope instead of Django's HTML CSRF page or a renderer's text/html 405."""
    allowed = frozenset(methods)

    @csrf_exempt  # the methods it lets through are safe ones, which CSRF never checks
    def wrapped(request, *args, **kwargs):
        if request.method not in allowed:
            response = json_error(errors.MethodNotAllowed(_("%(method)s is not allowed here; use %(allowed)s")
                                                          % {"method": request.method,
                                                             "allowed": " or ".join(sorted(allowed))}))
            response["Allow"] = ", ".join(sorted(allowed))
            return response
        return view(request, *args, **kwargs)

    wrapped.__name__ = getattr(view, "__name__", "wrapped")
    wrapped.__doc__ = view.__doc__
    for attribute in ("cls", "initkwargs", "view_class", "view_initkwargs"):  # drf-spectacular reads these
        if hasattr(view, attribute):
            setattr(wrapped, attribute, getattr(view, attribute))
    return wrapped


# --- the JSON wire format ---------------------------------------------------------------------

class JSONParser(parsers.JSONParser):
    """DRF's JSON parser behind the checks of :mod:`djs_platform.validation`: the nesting depth is measured
    before parsing (3,000 levels used to raise RecursionError: 500), and the parsed body may hold no lone
    surrogate and no NUL in a header value. Each answers 4001 naming the offending field."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise drf_exceptions.ParseError(_("JSON parse error - %(detail)s") % {"detail": exc}) from None
        limit = validation.max_json_depth()
        if validation.json_depth(text, stop_above=limit) > limit:
            raise errors.InvalidArgument(_("request body: JSON nested deeper than %(limit)s levels")
                                         % {"limit": limit})
        try:
            data = json.loads(text, parse_constant=strict_constant if self.strict else None)
        except ValueError as exc:
            raise drf_exceptions.ParseError(_("JSON parse error - %(detail)s") % {"detail": exc}) from None
        validation.check_value(data)
        return data


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSON renderer that never fails on text UTF-8 cannot carry: a row stored before the input checks
    (a lone surrogate in a task header, an audit row that copied it) is answered with U+FFFD in its place
    instead of a 500 for the whole list."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            log.warning("answer held lone surrogates (stored before the input checks); sent as U+FFFD")
            return super().render(validation.clean(data), accepted_media_type, renderer_context)


# --- query parameters and pagination --------------------------------------------------------

class PageQuery(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
    size = serializers.IntegerField(min_value=1, max_value=100, default=10)


class SortField(serializers.CharField):
    """``sort=<field>`` or ``sort=-<field>`` (descending) over an allow-list of API names; validates to the
    ``ORDER BY`` it means, ties broken by ``id`` in the same direction so pages never overlap or skip a row.

    ``columns`` maps each API name (camelCase, as the list answers it) to its model field. Only columns a user
    sorts by, and on large tables only indexed ones (docs/api.md "Sorting"). An unknown name answers 4001
    naming the allowed ones."""

    def __init__(self, columns: dict[str, str], **kwargs: Any) -> None:
        self.columns = dict(columns)
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("help_text", "sort by one of: " + ", ".join(self.columns)
                          + "; a leading - sorts descending (ties: by id)")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> tuple[str, ...]:
        value = super().to_internal_value(data)
        descending = value.startswith("-")
        name = value[1:] if descending else value
        column = self.columns.get(name)
        if column is None:
            raise serializers.ValidationError(_("unknown sort field %(field)s, one of %(allowed)s")
                                              % {"field": name, "allowed": ", ".join(self.columns)})
        sign = "-" if descending else ""
        return (f"{sign}{column}",) if column == "id" else (f"{sign}{column}", f"{sign}id")


def sorted_by(queryset, query: dict[str, Any]):
    """``queryset`` in the order a validated ``sort`` asks for (:class:`SortField`); unchanged without one."""
    order = query.get("sort")
    return queryset.order_by(*order) if order else queryset


def parse_query(serializer_class: type[serializers.Serializer], request) -> dict[str, Any]:
    """Validate query parameters with a serializer; unknown types/values answer 4001."""
    repeated = sorted(k for k, values in request.query_params.lists() if len(values) > 1)
    if repeated:  # no parameter is a list: "?status=1&status=2" is a mistake, not "the last one wins"
        raise errors.InvalidArgument(_("%(field)s: given more than once") % {"field": repeated[0]},
                                     fields={k: [_("given more than once")] for k in repeated})
    validation.check_query(request.query_params.items())
    data = {k: v for k, v in request.query_params.items()}
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise validation_error(serializer.errors)
    return dict(serializer.validated_data)


def page_of(queryset, query: dict[str, Any]) -> tuple[list, int]:
    """The rows of the validated ``page``/``size``/``sort`` of ``query``, and the total."""
    page, size = query.get("page", 1), query.get("size", 10)
    queryset = sorted_by(queryset, query)
    return list(queryset[(page - 1) * size: page * size]), queryset.count()


def page_body(items: list, total: int, query: dict[str, Any]) -> dict[str, Any]:
    return {"list": items, "total": total, "page": query.get("page", 1), "size": query.get("size", 10)}


def paginated(queryset, query: dict[str, Any], serializer_class, context: dict | None = None) -> Response:
    rows, total = page_of(queryset, query)
    return ok(page_body(serializer_class(rows, many=True, context=context or {}).data, total, query))
