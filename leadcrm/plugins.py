"""How the apps plug into the ground floor: `leadcrm` imports no app; it asks each installed app
for a module of an agreed name (`health`, `roles`, `demo`, `webhook_sample`), as Django's admin
asks each for `admin`."""

from collections.abc import Iterator
from importlib import import_module
from types import ModuleType

from django.apps import apps
from django.utils.module_loading import module_has_submodule


def each(name: str) -> Iterator[ModuleType]:
    """The `<app>.<name>` module of every installed app that has one, in INSTALLED_APPS order
    (not this package's own: `leadcrm.roles` is where the roles are collected)."""
    for config in apps.get_app_configs():
        if config.name != __package__ and module_has_submodule(config.module, name):
            yield import_module(f"{config.name}.{name}")
