"""Instances as connected components of a binary mask (mask prediction and the Shapes evaluator share it)."""
import numpy as np
from scipy import ndimage

EIGHT_CONNECTED = np.ones((3, 3), bool)


def split_instances(mask: np.ndarray, min_area: int) -> np.ndarray:
    """(K, H, W) boolean instance masks of a boolean (H, W) mask: its 8-connected components of at least
    `min_area` pixels, largest first (ties in scan order)."""
    labels, n = ndimage.label(mask, structure=EIGHT_CONNECTED)
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    order = np.argsort(-areas, kind="stable")
    keep = order[areas[order] >= min_area] + 1
    return labels[None] == keep[:, None, None]
