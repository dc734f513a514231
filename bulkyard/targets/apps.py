from django.apps import AppConfig


class TargetsConfig(AppConfig):
    name = "bulkyard.targets"
    label = "bulkyard_targets"
    verbose_name = "Targets"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        # Each app may declare targets in a ``targets`` module.
        autodiscover_modules("targets")
