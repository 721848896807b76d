from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from apps.departments import selectors, services
from apps.departments.api import serializers as s
from djs_platform.actor import Actor
from djs_platform.envelope import ok, parse_query
from djs_platform.fields import parse_body
from djs_platform.schema import NO_DATA


class DepartmentListView(APIView):
    @extend_schema(parameters=[s.DepartmentQuery], responses=s.DepartmentOutput(many=True), tags=["departments"])
    def get(self, request):
        q = parse_query(s.DepartmentQuery, request)
        rows = s.DepartmentOutput(selectors.department_list(user=request.user, keyword=q.get("keyword")),
                                  many=True).data
        if not q["tree"]:
            return ok(rows)
        # written without recursion: a legacy chain deeper than departments.maxDepth still renders
        body = '{"code":0,"message":"success","data":' + selectors.tree_json(selectors.department_tree(rows)) + "}"
        return HttpResponse(body.encode(), content_type="application/json")

    @extend_schema(request=s.DepartmentInput, responses=s.DepartmentOutput, tags=["departments"])
    def post(self, request):
        b = parse_body(s.DepartmentInput, request)
        dept = services.department_create(actor=Actor.from_request(request), name=b["name"],
                                          description=b.get("description"), parent_id=b.get("parentId"),
                                          status=b["status"])
        return ok(s.DepartmentOutput(dept).data)


class DepartmentDetailView(APIView):
    @extend_schema(responses=s.DepartmentOutput, tags=["departments"])
    def get(self, request, pk: int):
        return ok(s.DepartmentOutput(selectors.department_get(user=request.user, department_id=pk)).data)

    @extend_schema(request=s.DepartmentInput, responses=s.DepartmentOutput, tags=["departments"])
    def put(self, request, pk: int):
        b = parse_body(s.DepartmentInput, request)
        dept = services.department_update(actor=Actor.from_request(request), department_id=pk, name=b["name"],
                                          description=b.get("description"), parent_id=b.get("parentId"),
                                          status=b["status"])
        return ok(s.DepartmentOutput(dept).data)

    @extend_schema(responses=NO_DATA, tags=["departments"])
    def delete(self, request, pk: int):
        services.department_delete(actor=Actor.from_request(request), department_id=pk)
        return ok(None)
