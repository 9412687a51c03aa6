"""CycleGAN+Seg: CycleGAN whose images carry the union of the instance masks as one more channel."""
from . import register_model
from .cycle_gan_model import CycleGANModel


@register_model("cycle_gan_seg")
class CycleGANSegModel(CycleGANModel):
    with_seg = True
