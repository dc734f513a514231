from django.apps import AppConfig


class OutboundConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bulkyard.outbound"
    label = "bulkyard_outbound"
    verbose_name = "Outbound HTTP calls"
