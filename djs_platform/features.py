"""What the console needs to know about this platform's configuration (issue 20, defects 2 and 5).

``GET /v1/features`` answers any authenticated user, with no permission: the console greys out the SHELL task
type while ``job.shell.enabled`` is off, and offers ``server.timezone`` as the "platform zone" of its
time-zone setting. Nothing here is secret: both are visible to a user anyway (a SHELL save is refused with a
message naming the key; every task's preview shows times in some zone).
"""
from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from djs_platform.envelope import ok


class FeaturesOutput(serializers.Serializer):
    shell = serializers.BooleanField(help_text="job.shell.enabled: SHELL tasks can be saved and run")
    timezone = serializers.CharField(help_text="server.timezone: the platform's zone (IANA name)")


def features() -> dict:
    return {"shell": bool(settings.DJS_SHELL.enabled), "timezone": str(settings.TIME_ZONE)}


class FeaturesView(APIView):
    @extend_schema(responses=FeaturesOutput, tags=["auth"])
    def get(self, request):
        return ok(features())
