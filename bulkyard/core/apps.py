from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "bulkyard.core"
    label = "bulkyard_core"
    verbose_name = "Bulkyard core"
