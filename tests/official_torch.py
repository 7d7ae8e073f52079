"""This project's own PyTorch transcription of the official MoCoGAN networks
(sergeytulyakov/mocogan src/models.py, as ../shared/reference/official-mocogan.md
describes them), for the interop tests: the same module stacks, so the same
state_dict keys, and a deterministic forward from given noise. No code of the
official repository is in it.

The class names are the official ones, since a whole pickled module records them.
"""

import torch
from torch import nn


class Noise(nn.Module):
  """x + sigma * N(0, 1) when on; no parameters (it only takes a stack position)."""

  def __init__(self, use_noise, sigma=0.2):
    super().__init__()
    self.use_noise, self.sigma = use_noise, sigma

  def forward(self, x):
    return x + self.sigma * torch.randn_like(x) if self.use_noise else x


def _discriminator_stack(conv, norm, widths, last, noise_before_last, channels, use_noise, sigma):
  """Blocks of Noise, conv, BatchNorm (from the second block), LeakyReLU(0.2),
  then the last conv (after a Noise in the patch image discriminator)."""
  layers, cin = [], channels
  for i, width in enumerate(widths):
    layers += [Noise(use_noise, sigma), conv(cin, width)]
    if i:
      layers.append(norm(width))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    cin = width
  if noise_before_last:
    layers.append(Noise(use_noise, sigma))
  return nn.Sequential(*layers, last(cin))


class PatchImageDiscriminator(nn.Module):
  def __init__(self, n_channels, ndf=64, use_noise=False, noise_sigma=None):
    super().__init__()
    conv = lambda i, o: nn.Conv2d(i, o, 4, 2, 1, bias=False)
    self.main = _discriminator_stack(conv, nn.BatchNorm2d, [ndf, ndf * 2, ndf * 4],
                                     lambda i: conv(i, 1), True, n_channels, use_noise,
                                     noise_sigma)

  def forward(self, x):  # (N, C, 64, 64) -> (N, 4, 4) logits
    return self.main(x).squeeze(1), None


class ImageDiscriminator(nn.Module):
  def __init__(self, n_channels, ndf=64, use_noise=False, noise_sigma=None):
    super().__init__()
    conv = lambda i, o: nn.Conv2d(i, o, 4, 2, 1, bias=False)
    self.main = _discriminator_stack(conv, nn.BatchNorm2d, [ndf, ndf * 2, ndf * 4, ndf * 8],
                                     lambda i: nn.Conv2d(i, 1, 4, 1, 0, bias=False), False,
                                     n_channels, use_noise, noise_sigma)

  def forward(self, x):
    return self.main(x).flatten(1), None


class VideoDiscriminator(nn.Module):
  def __init__(self, n_channels, n_output_neurons=1, bn_use_gamma=True, use_noise=False,
               noise_sigma=None, ndf=64):
    super().__init__()
    conv = lambda i, o: nn.Conv3d(i, o, 4, stride=(1, 2, 2), padding=(0, 1, 1), bias=False)
    self.main = _discriminator_stack(
        conv, nn.BatchNorm3d, [ndf, ndf * 2, ndf * 4, ndf * 8],
        lambda i: nn.Conv3d(i, n_output_neurons, 4, 1, 0, bias=False), False, n_channels,
        use_noise, noise_sigma)

  def forward(self, x):  # (N, C, 16, 64, 64) -> (N, outputs)
    return self.main(x).flatten(1), None


class CategoricalVideoDiscriminator(VideoDiscriminator):
  """Real/fake logit first, the category logits last."""

  def __init__(self, n_channels, dim_categorical, n_output_neurons=1, use_noise=False,
               noise_sigma=None):
    super().__init__(n_channels, n_output_neurons + dim_categorical, use_noise=use_noise,
                     noise_sigma=noise_sigma)
    self.dim_categorical = dim_categorical

  def forward(self, x):
    h, _ = super().forward(x)
    return h[:, :-self.dim_categorical], h[:, -self.dim_categorical:]


class PatchVideoDiscriminator(nn.Module):
  def __init__(self, n_channels, n_output_neurons=1, bn_use_gamma=True, use_noise=False,
               noise_sigma=None, ndf=64):
    super().__init__()
    conv = lambda i, o: nn.Conv3d(i, o, 4, stride=(1, 2, 2), padding=(0, 1, 1), bias=False)
    self.main = _discriminator_stack(conv, nn.BatchNorm3d, [ndf, ndf * 2, ndf * 4],
                                     lambda i: conv(i, 1), False, n_channels, use_noise,
                                     noise_sigma)

  def forward(self, x):
    return self.main(x).squeeze(1), None


class VideoGenerator(nn.Module):
  def __init__(self, n_channels, dim_z_content, dim_z_category, dim_z_motion, video_length,
               ngf=64):
    super().__init__()
    self.dim_z_motion, self.video_length = dim_z_motion, video_length
    self.recurrent = nn.GRUCell(dim_z_motion, dim_z_motion)
    layers, cin = [], dim_z_content + dim_z_category + dim_z_motion
    for i, width in enumerate([ngf * 8, ngf * 4, ngf * 2, ngf]):
      layers += [nn.ConvTranspose2d(cin, width, 4, 1 if i == 0 else 2, 0 if i == 0 else 1,
                                    bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
      cin = width
    self.main = nn.Sequential(*layers, nn.ConvTranspose2d(cin, n_channels, 4, 2, 1, bias=False),
                              nn.Tanh())

  def videos(self, content, category_one_hot, h0, eps):
    """content (N, dc), category_one_hot (N, K), h0 (N, dm), eps (N, T, dm) ->
    videos (N, C, T, 64, 64): z_motion_t = h_t, t = 1..T (h0 dropped)."""
    n, t = eps.shape[:2]
    h, motion = h0, []
    for step in range(t):
      h = self.recurrent(eps[:, step], h)
      motion.append(h)
    z = torch.cat([content[:, None].expand(n, t, -1),
                   category_one_hot[:, None].expand(n, t, -1), torch.stack(motion, 1)], -1)
    frames = self.main(z.reshape(n * t, -1, 1, 1))
    return frames.reshape(n, t, *frames.shape[1:]).permute(0, 2, 1, 3, 4)
