"""What ``GET /api/v1/kinds/`` shows of each job kind."""

from typing import Any

from rest_framework import serializers


class KindSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    input_formats = serializers.ListField(child=serializers.CharField())
    reads_input = serializers.BooleanField(
        help_text="False for kinds that find their own items: send no items and no file. "
        "Some kinds need none only with certain params (email.send with 'recipients')."
    )
    required_columns = serializers.ListField(child=serializers.CharField())
    chunk_size = serializers.IntegerField()
    max_chunk_size = serializers.IntegerField()
    queue = serializers.CharField()
    params_schema = serializers.JSONField()
    example_item = serializers.JSONField(allow_null=True)
    example_params = serializers.JSONField(
        allow_null=True, help_text="Params that make a sensible first job of this kind."
    )
    offers_preview = serializers.BooleanField(
        help_text="Whether POST /api/v1/jobs/preview/ gives a dry run of the first rows."
    )
