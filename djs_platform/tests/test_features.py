"""GET /v1/features: the console's view of job.shell.enabled and server.timezone (issue 20, defects 2 and 5)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import Api

pytestmark = pytest.mark.django_db


def test_features_need_a_login_but_no_permission(org, settings):
    Api().get("features").expect(4010)
    nobody = org.member(org.b, codes=set())
    settings.DJS_SHELL = replace(settings.DJS_SHELL, enabled=False)
    settings.TIME_ZONE = "Asia/Shanghai"
    assert Api(nobody).get("features").expect(0).data == {"shell": False, "timezone": "Asia/Shanghai"}


def test_features_follow_the_shell_switch(admin_api, settings):
    settings.DJS_SHELL = replace(settings.DJS_SHELL, enabled=True)
    assert admin_api.get("features").expect(0).data["shell"] is True
    settings.DJS_SHELL = replace(settings.DJS_SHELL, enabled=False)
    assert admin_api.get("features").expect(0).data["shell"] is False
