from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "bulkyard.jobs"
    label = "bulkyard_jobs"
    verbose_name = "Bulk jobs"

    def ready(self) -> None:
        from bulkyard.jobs import registry

        registry.autodiscover()
