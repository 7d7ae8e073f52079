"""The official PyTorch MoCoGAN's weights in and out (torch_interop.py, import-torch,
export-torch, init_from), against this project's transcription of the official
networks (tests/official_torch.py)."""

import json
import os
import sys
from unittest import mock

import jax
import numpy as np
import pytest
import torch

import official_torch
from mocogan_jax import cli, config as config_lib, export, torch_interop
from mocogan_jax.models import mocogan
from mocogan_jax.errors import ConfigError

from conftest import create_train_state


def _randomize_batch_norms(module, generator):
  """Scales, offsets and running statistics away from their initial 1 / 0, so
  that a swapped or dropped tensor shows in the outputs."""
  for m in module.modules():
    if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
      n = m.num_features
      m.weight.data = 1 + 0.2 * torch.randn(n, generator=generator)
      m.bias.data = 0.2 * torch.randn(n, generator=generator)
      m.running_mean.data = 0.2 * torch.randn(n, generator=generator)
      m.running_var.data = 0.5 + torch.rand(n, generator=generator)
  return module.eval()


def _official_networks(ngf=64, ndf=64):
  """The official defaults: 50 content + 6 category + 10 motion, 16 frames."""
  torch.manual_seed(0)
  g = torch.Generator().manual_seed(1)
  return (_randomize_batch_norms(official_torch.VideoGenerator(3, 50, 6, 10, 16, ngf), g),
          _randomize_batch_norms(official_torch.PatchImageDiscriminator(3, ndf), g),
          _randomize_batch_norms(official_torch.CategoricalVideoDiscriminator(3, 6), g))


def test_official_weights_give_official_outputs_and_export_back_exactly(tmp_path):
  generator, image_d, video_d = _official_networks()
  # The generator as the official trainer saves it: the whole pickled module,
  # its class recorded as models.VideoGenerator (the official source file),
  # which is not importable when it is read.
  with mock.patch.dict(sys.modules, {"models": official_torch}), \
       mock.patch.object(official_torch.VideoGenerator, "__module__", "models"):
    torch.save(generator, tmp_path / "generator_100000.pytorch")
  torch.save(image_d.state_dict(), tmp_path / "image_d.pth")
  torch.save(video_d.state_dict(), tmp_path / "video_d.pth")
  out = str(tmp_path / "official.msgpack")
  cli.main(["import-torch", "--generator", str(tmp_path / "generator_100000.pytorch"),
            "--image_discriminator", str(tmp_path / "image_d.pth"),
            "--video_discriminator", str(tmp_path / "video_d.pth"), "--out", out])

  config, networks = export.load_networks(out)
  assert config == config_lib.load("shapes_64")
  latents = mocogan.sample_latents(jax.random.key(0), config, 2, 16)
  ours = mocogan.generator(config).apply(networks["generator"], latents, train=False)
  as_torch = lambda x: torch.tensor(np.asarray(x))
  with torch.no_grad():
    theirs = generator.videos(as_torch(latents["content"]),
                              torch.nn.functional.one_hot(as_torch(latents["category"]).long(),
                                                          6).float(),
                              as_torch(latents["h0"]), as_torch(latents["eps"]))
  np.testing.assert_allclose(ours, theirs.permute(0, 2, 3, 4, 1).numpy(), atol=1e-4)

  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, (3, 64, 64, 3)).astype(np.float32)
  videos = rng.uniform(-1, 1, (2, 16, 64, 64, 3)).astype(np.float32)
  ours, _ = mocogan.image_discriminator(config).apply(networks["image_discriminator"], images,
                                                      train=False)
  ours_v, ours_categories = mocogan.video_discriminator(config).apply(
      networks["video_discriminator"], videos, train=False)
  with torch.no_grad():
    theirs, _ = image_d(as_torch(images).permute(0, 3, 1, 2))
    theirs_v, theirs_categories = video_d(as_torch(videos).permute(0, 4, 1, 2, 3))
  np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-4)
  np.testing.assert_allclose(np.asarray(ours_v).reshape(2, 1), theirs_v.numpy(), atol=1e-4)
  np.testing.assert_allclose(ours_categories, theirs_categories.numpy(), atol=1e-4)

  # Back: the official classes load what export-torch writes, tensor for tensor.
  cli.main(["export-torch", "--params", out, "--out", str(tmp_path / "back")])
  classes = json.loads((tmp_path / "back" / "official_classes.json").read_text())
  for name, original in (("generator", generator), ("image_discriminator", image_d),
                         ("video_discriminator", video_d)):
    class_name, kwargs = classes[name]
    rebuilt = getattr(official_torch, class_name)(**kwargs)
    rebuilt.load_state_dict(torch.load(tmp_path / "back" / f"{name}.pth"), strict=True)
    for key, value in original.state_dict().items():
      assert torch.equal(rebuilt.state_dict()[key], value), (name, key)


def test_import_refuses_weights_that_do_not_fit_the_config_in_one_line(tmp_path):
  generator, _, video_d = _official_networks(ngf=32)
  torch.save(generator.state_dict(), tmp_path / "g.pth")
  config = config_lib.load("shapes_64")
  with pytest.raises(ConfigError) as error:
    torch_interop.import_files({"generator": str(tmp_path / "g.pth")}, config)
  message = str(error.value)
  assert "main.0.weight is (66, 256, 4, 4)" in message and "(66, 512, 4, 4)" in message
  assert "ngf=32" in message and "\n" not in message
  # The right override reads it.
  networks = torch_interop.import_files({"generator": str(tmp_path / "g.pth")},
                                        config.replace(ngf=32))
  assert networks["generator"]["params"]["motion_rnn"]["w_ih"].shape == (10, 30)
  # A categorical video discriminator's categories say n_categories.
  torch.save(video_d.state_dict(), tmp_path / "v.pth")
  with pytest.raises(ConfigError, match="main.15.weight is .7, 512, 4, 4, 4. .*n_categories=6"):
    torch_interop.import_files({"video_discriminator": str(tmp_path / "v.pth")},
                               config.replace(n_categories=4))


def test_reading_torch_files_needs_torch_only_there(tmp_path, monkeypatch):
  monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` fails
  with pytest.raises(ConfigError, match=r"pip install 'mocogan-jax\[torch\]'"):
    torch_interop.read_state_dict(str(tmp_path / "g.pth"))


def test_init_from_starts_a_run_from_an_exported_file(tmp_path):
  from mocogan_jax import registry, sharding
  config = config_lib.load("tiny")
  donor = create_train_state(config, jax.random.key(1))
  path = str(tmp_path / "donor.msgpack")
  export.write(path, config, jax.device_get(donor.generator.variables), discriminators={
      "video_discriminator": jax.device_get(donor.video_discriminator.variables)})

  run = config.replace(init_from=path, ema_decay=0.99)
  abstract = registry.abstract_train_state(run, sharding.make_mesh(run))
  fresh = registry.jit_create_train_state(run, abstract)(jax.random.key(0))
  started, fresh_arrays = export.start_from(fresh, path)
  assert fresh_arrays == []
  same = lambda a, b: jax.tree.all(jax.tree.map(np.array_equal, a, b))
  assert same(started.generator.variables, donor.generator.variables)
  assert same(started.generator_ema, donor.generator.variables)
  assert same(started.video_discriminator.variables, donor.video_discriminator.variables)
  # What the file lacks stays as initialised, optimiser states included.
  assert same(started.image_discriminator.variables, fresh.image_discriminator.variables)
  assert same(started.generator.opt_state, fresh.generator.opt_state)
  leaf = started.generator.params["motion_rnn"]["w_ih"]
  assert leaf.sharding == fresh.generator.params["motion_rnn"]["w_ih"].sharding

  wider = config.replace(ngf=config.ngf * 2, init_from=path)
  fresh = create_train_state(wider, jax.random.key(0))
  with pytest.raises(ConfigError, match=r"init_from .*: generator .* is \(16,\) there and \(32,\) in this"):
    export.start_from(fresh, path)
  # A model grown from the file: its 32x32 generator's layers in a 64x64
  # generator of half the width have the same shapes; the new last stage
  # and the video discriminator's last layers stay as initialised, named.
  grown = config.replace(image_size=config.image_size * 2, ngf=config.ngf // 2,
                         init_from=path, init_from_layers="shared")
  fresh = create_train_state(grown, jax.random.key(0))
  started, left = export.start_from(fresh, path, "shared")
  generator = started.generator.params["image_generator"]
  for layer in ("ConvTranspose2d_0", "ConvTranspose2d_1", "BatchNorm_0"):
    assert same(generator[layer], donor.generator.params["image_generator"][layer])
  assert same(started.generator.params["motion_rnn"], donor.generator.params["motion_rnn"])
  assert "generator/params/image_generator/ConvTranspose2d_3/kernel" in left
  assert same(generator["ConvTranspose2d_3"], fresh.generator.params["image_generator"][
      "ConvTranspose2d_3"])
  assert not any("motion_rnn" in key or "ConvTranspose2d_0" in key for key in left)
  assert any(key.startswith("video_discriminator/") for key in left)
  # Prepended: at the same width, the file's stages are the 64x64 generator's
  # last ones, RGB included; its new first stage starts fresh.
  deeper = config.replace(image_size=config.image_size * 2, init_from=path,
                          init_from_layers="prepend")
  fresh = create_train_state(deeper, jax.random.key(0))
  started, left = export.start_from(fresh, path, "prepend")
  generator = started.generator.params["image_generator"]
  theirs = donor.generator.params["image_generator"]
  for i in (1, 2):  # 16x16: stage 2 writes RGB
    assert same(generator[f"ConvTranspose2d_{i + 1}"], theirs[f"ConvTranspose2d_{i}"])
  assert same(started.generator.batch_stats["image_generator"]["BatchNorm_1"],
              donor.generator.batch_stats["image_generator"]["BatchNorm_0"])
  assert "generator/params/image_generator/ConvTranspose2d_0/kernel" in left
  assert "generator/params/image_generator/ConvTranspose2d_1/kernel" in left
  assert not any(f"ConvTranspose2d_{i}" in key for i in (2, 3) for key in left)
  with pytest.raises(ConfigError, match="init_from starts a MoCoGAN"):
    registry.validate(config.replace(model="vgan", init_from=path))
  assert os.path.exists(path)


@pytest.mark.parametrize("overrides, official_class, kwargs", [
    ({"image_discriminator": "full"}, "ImageDiscriminator", {"n_channels": 3, "ndf": 8}),
    ({"video_discriminator": "plain", "use_categories": False, "use_infogan": False},
     "VideoDiscriminator", {"n_channels": 3, "ndf": 8}),
    ({"video_discriminator": "patch", "use_categories": False, "use_infogan": False},
     "PatchVideoDiscriminator", {"n_channels": 3, "ndf": 8}),
])
def test_the_other_official_discriminators_map_both_ways(tmp_path, overrides, official_class,
                                                         kwargs):
  """The full image discriminator and the plain and patch video
  discriminators (narrow: ndf 8), state_dict -> ours -> state_dict, and their
  outputs."""
  torch.manual_seed(0)
  official = _randomize_batch_norms(getattr(official_torch, official_class)(**kwargs),
                                    torch.Generator().manual_seed(1))
  name = "image_discriminator" if "Image" in official_class else "video_discriminator"
  config = config_lib.load("shapes_64").replace(ndf=8, **overrides)
  torch.save(official.state_dict(), tmp_path / "d.pth")
  ours = torch_interop.import_files({name: str(tmp_path / "d.pth")}, config)[name]
  back = torch_interop.from_flax(name, ours, config)
  assert back.keys() == official.state_dict().keys()
  for key, value in official.state_dict().items():
    np.testing.assert_array_equal(back[key], value.numpy(), err_msg=key)
  shape = (2, 64, 64, 3) if name == "image_discriminator" else (2, 16, 64, 64, 3)
  x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
  module = (mocogan.image_discriminator if name == "image_discriminator"
            else mocogan.video_discriminator)(config)
  logits, _ = module.apply(ours, x, train=False)
  with torch.no_grad():
    theirs, _ = official(torch.tensor(x).permute(0, x.ndim - 1, *range(1, x.ndim - 1)))
  np.testing.assert_allclose(np.asarray(logits).reshape(theirs.shape), theirs.numpy(), atol=1e-4)


def test_export_torch_from_a_workdir(tmp_path, data_dir, capsys):
  run, out = str(tmp_path / "run"), tmp_path / "official"
  cli.main(["train", "--config", "tiny", "--workdir", run, f"data_dir={data_dir}",
            "num_steps=2"])
  cli.main(["export-torch", "--workdir", run, "--out", str(out)])
  printed = capsys.readouterr().out
  assert "note: the official classes build 64x64 networks and these are 16x16" in printed
  from mocogan_jax import workdir
  config, state = workdir.load_state(run)
  for name in torch_interop.NETWORKS:
    written = torch.load(out / f"{name}.pth")
    expected = torch_interop.from_flax(name, getattr(state, name).variables, config)
    assert written.keys() == expected.keys()
    for key, value in expected.items():
      np.testing.assert_array_equal(written[key].numpy(), value, err_msg=f"{name} {key}")
  classes = json.loads((out / "official_classes.json").read_text())
  assert classes["video_discriminator"] == ["CategoricalVideoDiscriminator", {
      "n_channels": 3, "dim_categorical": 4, "use_noise": True, "noise_sigma": 0.1}]
