"""The InstaGAN set generator (Eq. 1 of the paper), batched.

    h_img   = [f_img(x); sum_i f_seg(a_i)]            -> g_img  -> translated image
    h_seg_n = [f_seg(a_n); f_img(x); sum_i f_seg(a_i)] -> g_seg -> translated mask n

Instances of all samples are folded into one batch: only the non-empty slots are encoded and decoded, the
per-sample sum weights each slot by its non-empty flag, and empty slots are passed through unchanged. Hence a
batch of N gives the same outputs as N batches of 1, the image output is invariant and the mask outputs are
equivariant to permutations of the slots. Module names and indices equal the reference's, so its generator
checkpoints load unchanged. `output` (blocks.OUTPUTS): "residual" makes the image and each mask their inputs
changed (`add_to_input`; needs as many output as input channels); "paste" takes the generated image inside the
translated masks only, onto the input's background (`blocks.paste`).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import (OUTPUTS, NormLayer, add_to_input, check_output, encode_set, paste, resnet_decoder_layers,
                     resnet_encoder_layers, run_on_instances)


class ResnetSetGenerator(nn.Module):
    # --compile compiles these parts, not the whole (`base_model.compile_network`): the code between them picks the
    # non-empty slots, a number that varies with the data, and runs eagerly
    compile_parts = ("encoder_img", "decoder_img", "encoder_seg", "decoder_seg")

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, norm_layer: NormLayer = nn.InstanceNorm2d,
                 use_dropout: bool = False, n_blocks: int = 9, upsample: str = "transpose",
                 output: str = "generate"):
        super().__init__()
        check_output(output, OUTPUTS, input_nc, output_nc, "set generator")
        self.input_nc = input_nc
        self.output = output
        decoder = dict(norm_layer=norm_layer, upsample=upsample, tanh=output != "residual")
        self.encoder_img = nn.Sequential(*resnet_encoder_layers(input_nc, ngf, norm_layer, use_dropout, n_blocks))
        self.encoder_seg = nn.Sequential(*resnet_encoder_layers(1, ngf, norm_layer, use_dropout, n_blocks))
        self.decoder_img = nn.Sequential(*resnet_decoder_layers(output_nc, 2 * ngf, **decoder))
        self.decoder_seg = nn.Sequential(*resnet_decoder_layers(1, 3 * ngf, **decoder))

    def forward(self, img: torch.Tensor, segs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """img (B, C, H, W), segs (B, K, H, W) -> (translated image (B, output_nc, H, W), translated masks (B, K, H, W))."""
        b, k, h, w = segs.shape
        f_img = self.encoder_img(img)                               # (B, D, h', w')
        f_seg, f_sum, present = encode_set(self.encoder_seg, segs)  # (N, D, h', w'), (B, D, h', w'), (B*K,)
        img_out = self.decoder_img(torch.cat([f_img, f_sum], 1))

        sample = torch.arange(b, device=segs.device).repeat_interleave(k)[present]  # owner of each instance
        seg_in = torch.cat([f_seg, f_img[sample], f_sum[sample]], 1)       # (N, 3D, h', w')
        seg_out = run_on_instances(self.decoder_seg, seg_in)              # (N, 1, H, W)
        segs_out = segs.reshape(b * k, 1, h, w).clone()
        if self.output == "residual":
            img_out, seg_out = add_to_input(img_out, img), add_to_input(seg_out, segs_out[present])
        segs_out[present] = seg_out.to(segs_out.dtype)
        segs_out = segs_out.view(b, k, h, w)
        if self.output == "paste":
            img_out = paste(img_out, img, segs, segs_out)
        return img_out, segs_out

    def forward_concat(self, x: torch.Tensor) -> torch.Tensor:
        """The reference's calling convention: one tensor [image channels; mask slots] in and out."""
        img_out, segs_out = self(x[:, : self.input_nc], x[:, self.input_nc:])
        return torch.cat([img_out, segs_out], 1)
