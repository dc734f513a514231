from django.apps import AppConfig


class TextConfig(AppConfig):
    name = "bulkyard.text"
    label = "bulkyard_text"
    verbose_name = "Text processing"
