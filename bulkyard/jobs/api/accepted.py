"""The ``202 Accepted`` answer of a submission or a retry: the job, and what
its kind warns the submitter of (``JobKind.submission_warnings``)."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from bulkyard.jobs import services
from bulkyard.jobs.api.serializers import JobSerializer
from bulkyard.jobs.models import Job


class SubmissionWarningSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Machine-readable, e.g. `mail_server_unreachable`.")
    message = serializers.CharField()


class JobAcceptedSerializer(JobSerializer):
    """The job, with ``warnings``: things the submitter should know that did
    not stop the job (empty when there are none)."""

    warnings = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "warnings"]

    def to_representation(self, instance: Job) -> dict[str, Any]:
        # JobSerializer builds its dict by hand (see there): add to it.
        return {**super().to_representation(instance), "warnings": self.get_warnings(instance)}

    @extend_schema_field(SubmissionWarningSerializer(many=True))
    def get_warnings(self, job: Job) -> list[dict[str, str]]:
        found = self.context.get("warnings", [])
        return [{"code": w.code, "message": w.message} for w in found]


def accepted_response(request: Request, job: Job, *, created: bool) -> Response:
    warnings = services.job_submission_warnings(job=job)
    data = JobAcceptedSerializer(job, context={"request": request, "warnings": warnings}).data
    response = Response(data, status=status.HTTP_202_ACCEPTED)
    response["Location"] = data["url"]
    if not created:
        response["Idempotent-Replayed"] = "true"
    return response
