"""Model registry: `--model NAME` loads the class registered by `models/NAME_model.py`.

A model module decorates its class with `@register_model("NAME")`; `model_names()` lists the modules
so that argparse can offer them as choices before any of them is imported.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, TypeVar

_REGISTRY: dict[str, type] = {}
T = TypeVar("T", bound=type)


def register_model(name: str) -> Callable[[T], T]:
    def deco(cls: T) -> T:
        _REGISTRY[name] = cls
        return cls
    return deco


def model_names() -> list[str]:
    return sorted(m.name[: -len("_model")] for m in pkgutil.iter_modules(__path__) if m.name.endswith("_model")
                  and m.name != "base_model")


def get_model_class(name: str) -> type:
    if name not in _REGISTRY:
        importlib.import_module(f"models.{name}_model")
    return _REGISTRY[name]


def create_model(opt):
    """Instantiate the model named by `opt.model` (networks built, nothing loaded yet)."""
    return get_model_class(opt.model)(opt)
