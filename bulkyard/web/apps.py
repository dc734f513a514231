from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "bulkyard.web"
    label = "bulkyard_web"
    verbose_name = "Web pages"
