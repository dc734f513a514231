from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "bulkyard.images"
    label = "bulkyard_images"
    verbose_name = "Image processing"
