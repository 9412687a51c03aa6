"""Plug-ins found by name: `--model NAME` is `models/NAME_model.py`, `--dataset_mode NAME` is `data/NAME_dataset.py`."""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, TypeVar

T = TypeVar("T", bound=type)


class Registry:
    """Classes registered with `@registry.register(name)` in the modules `{package}/{name}{suffix}.py`."""

    def __init__(self, package: str, suffix: str):
        self.package, self.suffix = package, suffix
        self._classes: dict[str, type] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(cls: T) -> T:
            self._classes[name] = cls
            return cls
        return deco

    def names(self) -> list[str]:
        """Every plug-in module's name, listed without importing them (for argparse choices)."""
        path = importlib.import_module(self.package).__path__
        return sorted(m.name[: -len(self.suffix)] for m in pkgutil.iter_modules(path)
                      if m.name.endswith(self.suffix) and m.name != "base" + self.suffix)

    def get(self, name: str) -> type:
        if name not in self._classes:
            importlib.import_module(f"{self.package}.{name}{self.suffix}")
        return self._classes[name]
