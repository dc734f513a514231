from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "bulkyard.jobs"
    label = "bulkyard_jobs"
    verbose_name = "Bulk jobs"

    def ready(self) -> None:
        from bulkyard.core.metrics_endpoint import register_scrape_collector
        from bulkyard.jobs import registry
        from bulkyard.jobs.metrics import database_collector

        registry.autodiscover()
        # The engine's gauges, read from PostgreSQL at each scrape of /metrics.
        register_scrape_collector(database_collector)
