import pytest
import torch

from data import create_dataloader, create_dataset
from data.unaligned_seg_dataset import UnalignedSegDataset
from tests.data.helpers import make_opt, random_rgb, save
from util.errors import DataError


def test_batches_of_images_and_mask_slots(seg_root):
    loader = create_dataloader(make_opt(seg_root, batch_size=2, max_instances=4))
    batches = list(loader)
    assert [len(b["A_paths"]) for b in batches] == [2, 1]  # three items, the last batch is kept
    first = batches[0]
    assert first["A"].shape == first["B"].shape == (2, 3, 16, 12)
    assert first["A_segs"].shape == first["B_segs"].shape == (2, 4, 16, 12)
    assert first["A_segs"].dtype == torch.float32


def test_shuffle_follows_the_seed(seg_root):
    """The order of items; with workers the B draws would follow it too, here they use the caller's `random`."""
    def order(seed):
        opt = make_opt(seg_root, serial_batches=False, seed=seed)
        return [b["A_paths"][0] for b in create_dataloader(opt)]
    orders = {seed: order(seed) for seed in range(6)}
    assert order(3) == orders[3]
    assert len({tuple(o) for o in orders.values()}) > 1


def test_workers_and_loader_settings(seg_root):
    opt = make_opt(seg_root, num_threads=1, batch_size=3, gpu_ids=[0], serial_batches=False)
    loader = create_dataloader(opt)
    assert loader.num_workers == 1 and loader.persistent_workers and loader.pin_memory and not loader.drop_last
    opt.gpu_ids = []
    batch = next(iter(create_dataloader(opt)))  # the data set pickles into a worker process
    assert batch["A_segs"].shape == (3, 20, 16, 12)
    assert isinstance(create_dataset(make_opt(seg_root)), UnalignedSegDataset)


def test_pictures_of_different_sizes_in_one_batch_fail_in_one_line(tmp_path):
    """--preprocess none keeps each picture's size: two sizes cannot share a batch, and the error names them."""
    for name, (h, w) in {"a.png": (16, 20), "b.png": (24, 20)}.items():
        save(tmp_path / "trainA" / name, random_rgb(h, w))
        save(tmp_path / "trainB" / name, random_rgb(16, 16))
    opt = make_opt(tmp_path, "unaligned", resize_or_crop="none", batch_size=2)
    with pytest.raises(DataError, match=r"trainA/a.png \(16x20\) and .*trainA/b.png \(24x20, HxW\) differ in "
                                        r"size but share a batch: use --batch_size 1"):
        next(iter(create_dataloader(opt)))
