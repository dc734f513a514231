from django.apps import AppConfig


class DataConfig(AppConfig):
    name = "bulkyard.data"
    label = "bulkyard_data"
    verbose_name = "Data import and export"
