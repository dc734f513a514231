from django.apps import AppConfig


class MailConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bulkyard.mail"
    label = "bulkyard_mail"
    verbose_name = "Bulk email"
