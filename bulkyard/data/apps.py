from django.apps import AppConfig


class DataConfig(AppConfig):
    name = "bulkyard.data"
    label = "bulkyard_data"
    verbose_name = "Data import and export"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        # Each app may declare import targets in a ``targets`` module.
        autodiscover_modules("targets")
