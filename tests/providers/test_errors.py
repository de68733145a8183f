"""One base for every failure a provider reports (what `pulumi up` shows under the resource)."""

from __future__ import annotations

import inspect

from providers import errors


def test_every_provider_failure_is_a_provider_error_named_for_what_happened():
    classes = [
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, Exception) and c.__module__ == errors.__name__
    ]
    assert errors.ProviderError in classes and len(classes) > 10
    for cls in classes:
        assert issubclass(cls, errors.ProviderError), cls
        assert cls is errors.ProviderError or cls.__doc__ or cls.__init__ is not Exception.__init__, cls


def test_no_provider_module_defines_an_exception_of_its_own():
    import importlib
    import pkgutil

    import providers

    for module in pkgutil.iter_modules(providers.__path__):
        if module.name == "errors":
            continue
        loaded = importlib.import_module(f"providers.{module.name}")
        own = [
            c
            for _, c in inspect.getmembers(loaded, inspect.isclass)
            if issubclass(c, Exception) and c.__module__ == loaded.__name__ and not c.__name__.startswith("_")
        ]
        assert own == [], (module.name, own)
