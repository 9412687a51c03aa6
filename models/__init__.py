"""Model registry: `--model NAME` loads the class registered by `models/NAME_model.py`.

A model module decorates its class with `@register_model("NAME")`; `model_names()` lists the modules
so that argparse can offer them as choices before any of them is imported.
"""
from __future__ import annotations

from util.registry import Registry

_models = Registry("models", "_model")
register_model = _models.register
model_names = _models.names
get_model_class = _models.get


def create_model(opt):
    """Instantiate the model named by `opt.model` (networks built, nothing loaded yet)."""
    return get_model_class(opt.model)(opt)
