"""History of generated images fed to the discriminators (Shrivastava et al. 2017, as in CycleGAN).

Showing D a mix of current and past fakes damps oscillations between G and D.
"""
import random

import torch


class ImagePool:
    """A buffer of up to `pool_size` past images; `pool_size` 0 disables it."""

    def __init__(self, pool_size: int) -> None:
        if pool_size < 0:
            raise ValueError(f"pool_size must be >= 0, got {pool_size}")
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Return a batch like `images` (N, ...): each entry is the new image or, once the pool is full,
        with probability 1/2 a stored one that the new image then replaces (a uniform draw above 0.5, as the
        references, so that the same `random` state makes the same choices)."""
        if self.pool_size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.pool_size:
                self.images.append(image.clone())
                out.append(image)
            elif random.uniform(0, 1) > 0.5:      # the references' draw and test (the same Python random stream)
                i = random.randint(0, self.pool_size - 1)
                out.append(self.images[i])
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict:
        return {"images": list(self.images)}

    def load_state_dict(self, state: dict) -> None:
        images = state["images"]
        if len(images) > self.pool_size:
            raise ValueError(f"the saved pool holds {len(images)} images, more than pool_size {self.pool_size}")
        self.images = [t.detach().clone() for t in images]
