import random

import pytest
import torch

from util.image_pool import ImagePool


def _rows_from(out, *sources):
    """Every returned image equals one image of the given sources."""
    pool = torch.cat(sources)
    return all(any(torch.equal(o, p) for p in pool) for o in out)


def test_size_zero_returns_input():
    x = torch.randn(3, 4, 2, 2)
    assert ImagePool(0).query(x) is x


def test_filling_returns_the_inputs_and_stores_clones():
    pool = ImagePool(5)
    x = torch.randn(3, 4, 2, 2, requires_grad=True)
    out = pool.query(x)
    assert torch.equal(out, x.detach()) and not out.requires_grad
    assert len(pool.images) == 3
    x.data.add_(1.0)  # stored images must not follow the caller's tensor
    assert not torch.equal(pool.images[0], x[0].detach())


def test_full_pool_mixes_history_and_new_images_for_varying_batch_sizes():
    random.seed(0)
    pool = ImagePool(4)
    seen = [torch.randn(3, 5, 2, 2)]
    pool.query(seen[0])
    from_history = 0
    for n in [1, 4, 2, 6, 3]:
        x = torch.randn(n, 5, 2, 2)
        before = torch.stack(pool.images)
        out = pool.query(x)
        assert out.shape == x.shape
        assert _rows_from(out, before, x)
        from_history += sum(not any(torch.equal(o, xi) for xi in x) for o in out)
        assert len(pool.images) == 4
        assert _rows_from(torch.stack(pool.images), *seen, x)
        seen.append(x)
    assert 0 < from_history < 16  # probability 1/2 each: both kinds occur


def test_state_dict_round_trip(tmp_path):
    pool = ImagePool(3)
    pool.query(torch.randn(2, 3, 2, 2))
    torch.save(pool.state_dict(), tmp_path / "pool.pt")
    other = ImagePool(3)
    other.load_state_dict(torch.load(tmp_path / "pool.pt"))
    assert len(other.images) == 2
    assert all(torch.equal(a, b) for a, b in zip(pool.images, other.images))
    random.seed(1)
    a = pool.query(torch.ones(4, 3, 2, 2))
    random.seed(1)
    b = other.query(torch.ones(4, 3, 2, 2))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="pool_size"):
        ImagePool(1).load_state_dict(pool.state_dict())


def test_a_draw_above_one_half_takes_a_stored_image_as_the_references():
    pool = ImagePool(1)
    stored, new = torch.zeros(1, 2), torch.ones(1, 2)
    pool.query(stored)
    random.seed(0)
    assert random.uniform(0, 1) > 0.5      # the first draw after seed 0 (0.84)
    random.seed(0)
    assert torch.equal(pool.query(new), stored) and torch.equal(pool.images[0], new[0])
