"""An unscoped import target for the tests: Django's auth groups, whose rows
every permitted user shares (loaded with the test kinds)."""

from django.contrib.auth.models import Group

from bulkyard.targets.registry import register_target

SHARED_TARGET = "test.groups"

register_target(name=SHARED_TARGET, model=Group, key="name", fields=("name",))
