from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "bulkyard.users"
    label = "bulkyard_users"
    verbose_name = "Users"

    def ready(self) -> None:
        # drf-spectacular finds extensions by their class being defined.
        from bulkyard.users import schema  # noqa: F401
