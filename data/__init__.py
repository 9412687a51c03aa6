"""Data-mode registry and the data loader.

`--dataset_mode NAME` loads the class registered by `data/NAME_dataset.py` with `@register_dataset("NAME")`.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
from typing import Callable, TypeVar

import torch
from torch.utils.data import DataLoader, Dataset

from util.log import logger

_REGISTRY: dict[str, type] = {}
T = TypeVar("T", bound=type)


def register_dataset(name: str) -> Callable[[T], T]:
    def deco(cls: T) -> T:
        _REGISTRY[name] = cls
        return cls
    return deco


def dataset_modes() -> list[str]:
    return sorted(m.name[: -len("_dataset")] for m in pkgutil.iter_modules(__path__) if m.name.endswith("_dataset")
                  and m.name != "base_dataset")


def get_dataset_class(name: str) -> type:
    if name not in _REGISTRY:
        importlib.import_module(f"data.{name}_dataset")
    return _REGISTRY[name]


def create_dataset(opt) -> Dataset:
    """The data set of `opt.dataset_mode`, checked on construction (raises `DataError`)."""
    dataset = get_dataset_class(opt.dataset_mode)(opt)
    logger.info("dataset [%s] was created: %d items", type(dataset).__name__, len(dataset))
    return dataset


def create_dataloader(opt) -> DataLoader:
    """Batches of `create_dataset(opt)`; shuffling follows `opt.seed` so that runs can be repeated."""
    return DataLoader(create_dataset(opt), batch_size=opt.batch_size, shuffle=not opt.serial_batches,
                      num_workers=min(opt.num_threads, os.cpu_count() or 1), pin_memory=bool(opt.gpu_ids),
                      persistent_workers=opt.num_threads > 0, drop_last=False,
                      generator=torch.Generator().manual_seed(opt.seed))
