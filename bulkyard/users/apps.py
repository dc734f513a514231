from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "bulkyard.users"
    label = "bulkyard_users"
    verbose_name = "Users"
