"""maskproof adapter for examples/third_party_mae.py; TARGET examples.third_party_adapter:Adapter"""
import torch

from maskproof.bridge.audit.protocols import FixedTensor, SinCos2D
from maskproof.examples.third_party_mae import TinyMAE


class Adapter:
    def __init__(self):
        self.model = m = TinyMAE()
        self.patch_size, self.in_chans, self.norm_pix_loss = m.patch_size, m.in_chans, True
        self.encoder_image_shape = (m.in_chans, *m.img_size)
        self.patchify_fixed = (m.patch_size, m.in_chans)  # the model has one patch size

    def random_masking(self, x, mask_ratio, generator):
        with torch.random.fork_rng():  # the model draws from the global RNG: seed it from ours
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
            return TinyMAE.random_masking(self.model, x, mask_ratio)  # not the patched one

    def patchify(self, images, p):
        return self.model.patchify(images)

    def unpatchify(self, patches, p, shape):
        return self.model.unpatchify(patches, (shape[1] // p, shape[2] // p))

    def loss(self, images, pred, mask):  # maskproof's mask is 1 = removed, like MAE's
        return self.model.forward_loss(images, pred, mask)

    def encode(self, images, mask):  # forward_encoder with our mask instead of a drawn one
        ids = torch.argsort(mask, dim=1, stable=True)[:, : int((mask[0] == 0).sum())]
        self.model.random_masking = lambda x, _: (  # noqa: E731 (replaces the draw)
            x.gather(1, ids[..., None].expand(-1, -1, x.shape[2])), mask, None)
        return self.model.forward_encoder(images, 0.0)[0]

    def fixed_tensors(self, seed):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return [FixedTensor("pos_embed", TinyMAE().pos_embed[0], SinCos2D(32, 2, 3, True))]
