"""Filters treat SQL metacharacters and unicode as plain text; CORS follows the allow-list."""
from __future__ import annotations

from dataclasses import replace

import pytest
from django.conf import settings
from django.test import override_settings

from apps.departments.models import Department
from conftest import Api
from tests.factories import DepartmentFactory


@pytest.mark.parametrize("keyword", ["'; DROP TABLE department; --", "%", "_", "\\", "\" OR 1=1 --", "部门",
                                     "😀", "a' UNION SELECT password FROM user --"])
def test_metacharacters_and_unicode_in_filters_are_plain_text(admin_api, org, keyword):
    DepartmentFactory(name=f"x{keyword}y", parent=org.a)
    names = [row["name"] for row in admin_api.get("departments", keyword=keyword).expect(0).data]
    assert names == [f"x{keyword}y"]  # LIKE wildcards are escaped: "%" matches only a literal percent sign
    assert admin_api.get("users", keyword=keyword).expect(0).data["total"] == 0
    assert admin_api.get("tasks", keyword=keyword).expect(0).data["total"] == 0
    assert Department.objects.filter(name="A").exists()


def test_cors_headers_only_for_allowed_origins(db):
    allowed_origins = ("https://console.example.com",)
    with override_settings(DJS_SERVER=replace(settings.DJS_SERVER, cors_allowed_origins=allowed_origins)):
        from django.test import Client

        client = Client()
        allowed = client.options("/v1/health", HTTP_ORIGIN="https://console.example.com")
        assert allowed.status_code == 204
        assert allowed["Access-Control-Allow-Origin"] == "https://console.example.com"
        assert "Authorization" in allowed["Access-Control-Allow-Headers"]
        other = client.get("/v1/health", HTTP_ORIGIN="https://evil.example.com")
        assert "Access-Control-Allow-Origin" not in other


def test_no_cors_by_default(db):
    resp = Api().client.get("/v1/health", HTTP_ORIGIN="https://anything.example.com")
    assert "Access-Control-Allow-Origin" not in resp
