"""Score translated images with the chosen metrics, and report the numbers (metrics.json and a table on the
results page). Used by scripts/evaluate.py on test.py's files and by training's --eval_freq on images in memory."""
from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from util.errors import OptionError, UserError
from util.log import logger
from . import fidelity, lpips_diversity, weights
from .classifier import DOMAINS, DomainClassifier
from .images import masked, read_mask, read_rgb, real_masks, sample_groups
from .options import DEFAULT_GROUPS

Image = Path | torch.Tensor          # a file, or uint8 (3, H, W) pixels already in memory


@dataclass
class Settings:
    """The protocol and the weight files (flags of options.py)."""
    inception_weights: str | None = None
    lpips_net: str = "alex"
    lpips_weights: str | None = None
    classifier: str | None = None
    vgg_weights: str | None = None
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    is_splits: int = 10
    fid_features: str = fidelity.POOL
    batch_size: int = 32
    diversity_pattern: re.Pattern = field(default_factory=lambda: re.compile(DEFAULT_GROUPS))
    diversity_inputs: int = 100
    diversity_pairs: int = 19
    seed: int = 0

    @classmethod
    def from_options(cls, opt: argparse.Namespace) -> "Settings":
        return cls(**{k: getattr(opt, k) for k in cls.__dataclass_fields__ if hasattr(opt, k)})

    def check_weights(self, metrics: Sequence[str]) -> None:
        """Find every weight file the metrics need now, so that a missing one fails before any work."""
        if {"fid", "kid", "is"} & set(metrics):
            weights.inception().resolve(self.inception_weights)
        if "lpips_diversity" in metrics:
            weights.torchvision_backbone(self.lpips_net, "--lpips_weights").resolve(self.lpips_weights)
        if "cls" in metrics:
            if not self.classifier:
                raise OptionError("the metric cls needs --classifier PATH (see scripts/train_classifier.py)")
            if not os.path.isfile(self.classifier):
                raise UserError(f"--classifier {self.classifier}: no such file")
            weights.torchvision_backbone("vgg", "--vgg_weights").resolve(self.vgg_weights)

    def load_weights(self, metrics: Sequence[str]) -> None:
        """Load every network the metrics need once, on the CPU, and drop it: a file of the wrong kind fails now
        (train.py --eval_freq: before training), not at the first scoring. Their random initialisations draw
        from a forked generator: the caller's random stream is left as it was."""
        self.check_weights(metrics)
        cpu = torch.device("cpu")
        with torch.random.fork_rng(devices=[]):
            if {"fid", "kid", "is"} & set(metrics):
                fidelity.inception(weights.inception().resolve(self.inception_weights), cpu)
            if "cls" in metrics:
                DomainClassifier.load(self.classifier, weights.torchvision_backbone("vgg", "--vgg_weights").resolve(
                    self.vgg_weights), cpu)


def pixels(image: Image) -> torch.Tensor:
    return image if torch.is_tensor(image) else read_rgb(image)


def mask_of(mask: Image) -> torch.Tensor:
    """(H, W) in [0, 1] from a mask file, or from a mask visual in memory (uint8 (3, H, W) greys)."""
    return mask[0].float() / 255 if torch.is_tensor(mask) else read_mask(mask)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise OptionError("--device cuda: no CUDA device is available")
    return torch.device(name)


def score(metrics: Sequence[str], settings: Settings, device: torch.device, fake: Sequence[Image],
          real: Sequence[Image] = (), target: str = "B", fake_masks: Sequence[Image] | None = None,
          real_folder: str | None = None, groups_dir: Path | None = None) -> dict:
    """The chosen metrics of the translated images `fake` (to domain `target`) against the real target images
    `real`: {metric: {numbers, sample counts}, "warnings": [...]}. `fake_masks`: the translated masks, for a
    masked classifier; `real_folder`: where `real` lies (its `_seg` folder has their masks); `groups_dir`: the
    images folder where LPIPS diversity finds several outputs per input."""
    out: dict = {}
    notes: list[str] = []
    if {"fid", "kid", "is"} & set(metrics):
        out.update(_inception_metrics(metrics, settings, device, fake, real, notes))
    if "lpips_diversity" in metrics:
        if groups_dir is None:
            raise UserError("LPIPS diversity needs the results folder holding several outputs per input")
        out["lpips_diversity"] = _diversity(settings, device, groups_dir, notes)
    if "cls" in metrics:
        out.update(_classification(settings, device, fake, real, target, fake_masks, real_folder))
    out["warnings"] = notes
    return out


def _inception_metrics(metrics, settings: Settings, device, fake, real, notes: list[str]) -> dict:
    if not fake:
        raise UserError("no translated images to score")
    need_real = {"fid", "kid"} & set(metrics)
    if need_real and not real:
        raise OptionError("FID and KID need the real target images: --real DIR")
    layers = list(dict.fromkeys([fidelity.POOL, fidelity.LOGITS, settings.fid_features]))
    net = fidelity.inception(weights.inception().resolve(settings.inception_weights), device, layers)
    f = fidelity.features(net, map(pixels, fake), len(fake), device, settings.batch_size, "Inception (translated)")
    r = fidelity.features(net, map(pixels, real), len(real), device, settings.batch_size,
                          "Inception (real)") if need_real else None
    out: dict = {}
    n = {"n_fake": len(fake), "n_real": len(real)}
    if "fid" in metrics:
        if min(len(fake), len(real)) < 2:
            raise UserError(f"FID needs at least 2 images on each side, got {len(fake)} and {len(real)}")
        layer = settings.fid_features
        out["fid"] = {"value": fidelity.fid(f[layer], r[layer]), "features": int(layer), **n}
        notes.append(fidelity.warn_if_few("fid", min(len(fake), len(real)), int(layer)))
    if "kid" in metrics:
        mean, std, size = fidelity.kid(f[fidelity.POOL], r[fidelity.POOL], settings.kid_subsets,
                                       settings.kid_subset_size, settings.seed)
        out["kid_x100"] = {"mean": 100 * mean, "std": 100 * std, "subsets": settings.kid_subsets,
                           "subset_size": size, **n}
        notes.append(fidelity.warn_if_few("kid", size))
    if "is" in metrics:
        splits = min(settings.is_splits, len(fake))      # at least one image per split
        mean, std = fidelity.inception_score(f[fidelity.LOGITS], splits, settings.seed)
        out["is"] = {"mean": mean, "std": std, "splits": splits, "n": len(fake)}
        notes.append(fidelity.warn_if_few("is", len(fake)))
    notes[:] = [n for n in notes if n]
    return out


def _diversity(settings: Settings, device, groups_dir: Path, notes: list[str]) -> dict:
    groups = sample_groups(groups_dir, settings.diversity_pattern)
    pairs = lpips_diversity.choose_pairs(groups, settings.diversity_inputs, settings.diversity_pairs, settings.seed)
    if not pairs:
        raise UserError(f"no input in {groups_dir} has two or more outputs matching --diversity_pattern "
                        f"{settings.diversity_pattern.pattern}")
    inputs = len([name for name in groups if len(groups[name]) >= 2][:settings.diversity_inputs])
    if inputs < settings.diversity_inputs or len(pairs) < inputs * settings.diversity_pairs:
        note = (f"LPIPS diversity on {len(pairs)} pairs of {inputs} inputs: fewer than the protocol's "
                f"{settings.diversity_pairs} pairs of each of {settings.diversity_inputs} inputs")
        logger.warning("%s", note)
        notes.append(note)
    backbone = weights.torchvision_backbone(settings.lpips_net, "--lpips_weights").resolve(settings.lpips_weights)
    model = lpips_diversity.lpips_model(settings.lpips_net, backbone, device)
    return {"value": lpips_diversity.diversity(model, pairs), "inputs": inputs, "pairs": len(pairs),
            "net": f"lpips 0.1 {settings.lpips_net}"}


def _classification(settings: Settings, device, fake, real, target: str, fake_masks, real_folder) -> dict:
    backbone = weights.torchvision_backbone("vgg", "--vgg_weights").resolve(settings.vgg_weights)
    clf = DomainClassifier.load(settings.classifier, backbone, device)
    label = DOMAINS.index(target)
    images = list(map(pixels, fake))
    if clf.masked:
        if fake_masks is None:
            raise UserError(f"classifier {settings.classifier} is masked: the translated masks are needed "
                            f"(--mask_visual)")
        images = [masked(x, mask_of(m)) for x, m in zip(images, fake_masks)]
    hits = clf.predict(images, len(images), settings.batch_size) == label
    out = {"cls": {"value": float(hits.float().mean()), "n": len(images), "target": target, "masked": clf.masked}}
    if real:
        real_images = map(pixels, real)
        if clf.masked:
            if real_folder is None:
                raise UserError("a masked classification score of real images needs their folder")
            real_images = (masked(x, m) for x, m in zip(real_images, real_masks(real_folder, real)))
        hits = clf.predict(real_images, len(real), settings.batch_size) == label
        out["cls_real"] = {"value": float(hits.float().mean()), "n": len(real), "target": target,
                           "masked": clf.masked}
    return out


def headline(results: dict) -> dict[str, float]:
    """One number per metric (what training plots and compares): FID, KID x100 mean, IS mean, LPIPS, cls."""
    keys = {"fid": ("fid", "value"), "kid": ("kid_x100", "mean"), "is": ("is", "mean"),
            "lpips_diversity": ("lpips_diversity", "value"), "cls": ("cls", "value")}
    return {m: results[k][v] for m, (k, v) in keys.items() if k in results}


# -- the report -----------------------------------------------------------------------------------------------------
LABELS = {"fid": "FID", "kid_x100": "KID x100", "is": "IS", "lpips_diversity": "LPIPS diversity",
          "cls": "classification score", "cls_real": "classification score of real target images"}
PAGE_MARK = ("<!-- metrics: scripts/evaluate.py -->", "<!-- /metrics -->")


def rows(results: dict) -> list[tuple[str, str, str]]:
    """(metric, value, samples) per metric, as printed and on the page."""
    out = []
    for key, label in LABELS.items():
        r = results.get(key)
        if r is None:
            continue
        if "mean" in r:
            value = f"{r['mean']:.4f} ± {r['std']:.4f}"
        else:
            value = f"{r['value']:.4f}"
        if key in ("fid", "kid_x100"):
            n = f"{r['n_fake']} translated, {r['n_real']} real"
            n += f" ({r['features']} features)" if key == "fid" and r["features"] != 2048 else ""
            n += f"; {r['subsets']} subsets of {r['subset_size']}" if key == "kid_x100" else ""
        elif key == "is":
            n = f"{r['n']} ({r['splits']} splits)"
        elif key == "lpips_diversity":
            n = f"{r['pairs']} pairs of {r['inputs']} inputs ({r['net']})"
        else:
            n = f"{r['n']} (target {r['target']}{', masked' if r['masked'] else ''})"
        out.append((label, value, n))
    return out


def format_table(results: dict) -> str:
    table = rows(results)
    width = max([len(label) for label, _, _ in table] + [6])
    lines = [f"{'metric':<{width}}  {'value':<22}  samples"]
    lines += [f"{label:<{width}}  {value:<22}  {n}" for label, value, n in table]
    lines += [f"warning: {w}" for w in results.get("warnings", [])]
    return "\n".join(lines)


def write_report(folder: Path, results: dict) -> Path:
    """`folder/metrics.json`, and the table at the top of `folder/index.html` when test.py wrote one (an earlier
    table is replaced). Both are written aside and moved into place."""
    from dominate import tags     # here: the options import this module, and scripts/benchmark.py writes no page

    path = folder / "metrics.json"
    _replace(path, json.dumps(results, indent=2) + "\n")
    page = folder / "index.html"
    if page.is_file():
        html = page.read_text(encoding="utf-8")
        start, end = PAGE_MARK
        if start in html and end in html:
            html = html[: html.index(start)] + html[html.index(end) + len(end):]
        block = tags.div(id="metrics")
        block.add(tags.h3("Metrics"))
        with block.add(tags.table(border=1)):
            tags.tr(tags.th("metric"), tags.th("value"), tags.th("samples"))
            for row in rows(results):
                tags.tr(*(tags.td(cell) for cell in row))
        for warning in results.get("warnings", []):
            block.add(tags.p(f"warning: {warning}"))
        at = html.index(">", html.index("<body")) + 1 if "<body" in html else 0
        html = html[:at] + start + block.render() + end + html[at:]
        _replace(page, html)
    return path


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
