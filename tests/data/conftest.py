"""Fixtures of the data tests."""
import pytest

from tests.data.helpers import rect_mask, write_domain


@pytest.fixture
def seg_root(tmp_path):
    """A: 2 images (2 and 0 masks), B: 3 images (1 mask each), 24x20 (HxW)."""
    root = tmp_path / "root"
    write_domain(root, "train", "A", {"a0": [rect_mask(24, 20, 2, 2, 10, 10), rect_mask(24, 20, 12, 5, 20, 15)],
                                      "a1": []})
    write_domain(root, "train", "B", {f"b{i}": [rect_mask(24, 20, 3, 3, 12 + i, 12)] for i in range(3)})
    return root
