"""What ``GET /api/v1/me/`` shows: who the caller is and their quotas."""

from typing import Any

from rest_framework import serializers


class QuotaSerializer(serializers.Serializer[Any]):
    limit = serializers.IntegerField(allow_null=True, help_text="null: unlimited.")
    used = serializers.IntegerField()
    remaining = serializers.IntegerField(allow_null=True, help_text="null: unlimited.")
    resets_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When a day quota's count starts again (00:00 UTC); null for job quotas, "
        "which free when one of your jobs moves on.",
    )


class QuotasSerializer(serializers.Serializer[Any]):
    running_jobs = QuotaSerializer(help_text="Your jobs running or cancelling at once.")
    queued_jobs = QuotaSerializer(help_text="Your jobs queued, waiting to be planned.")
    items_per_day = QuotaSerializer(help_text="Items of the jobs you submitted today (UTC).")
    upload_bytes_per_day = QuotaSerializer(
        help_text="Bytes of inputs and attachments you uploaded today (UTC)."
    )


class MeSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    username = serializers.CharField()
    quotas = QuotasSerializer()
