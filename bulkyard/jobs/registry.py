"""The registry of job kinds, filled from each installed app's ``kinds`` module."""

from importlib import import_module
from typing import Any, TypeVar

from django.conf import settings
from django.utils.module_loading import autodiscover_modules

from bulkyard.jobs.kinds import JobKind

_kinds: dict[str, JobKind[Any]] = {}

KindT = TypeVar("KindT", bound=type[JobKind[Any]])


class UnknownKind(LookupError):
    pass


def register(kind_class: KindT) -> KindT:
    """Class decorator: make a job kind available under its ``name``."""
    name = kind_class.name
    existing = _kinds.get(name)
    if existing is not None and type(existing) is not kind_class:
        raise ValueError(f"job kind {name!r} is registered twice")
    _kinds[name] = kind_class()
    return kind_class


def get(name: str) -> JobKind[Any]:
    try:
        return _kinds[name]
    except KeyError:
        raise UnknownKind(name) from None


def all_kinds() -> list[JobKind[Any]]:
    return [_kinds[name] for name in sorted(_kinds)]


def autodiscover() -> None:
    autodiscover_modules("kinds")
    for module in settings.BULKYARD_EXTRA_KIND_MODULES:
        import_module(module)
