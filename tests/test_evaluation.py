"""Evaluation: the metrics against reference implementations, the FVD reference
example through the shipped I3D, and `evaluate` / `train-classifier` end to end."""

import json
import os

import jax
import numpy as np
import pytest
import scipy.linalg

from mocogan_jax.data import shape_motion
from mocogan_jax.evaluation import i3d, metrics

from conftest import cli


# ---------------------------------------------------------------------------
# Distances.
# ---------------------------------------------------------------------------

def _scipy_frechet(a, b):
  mu_a, mu_b = a.mean(0), b.mean(0)
  cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
  root = scipy.linalg.sqrtm(cov_a @ cov_b)
  return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root.real))


@pytest.mark.parametrize("dim", [8, 64])
def test_frechet_distance_matches_scipy(dim):
  rng = np.random.default_rng(dim)
  mix_a, mix_b = rng.normal(size=(dim, dim)), rng.normal(size=(dim, dim))
  a = rng.normal(size=(500, dim)) @ mix_a + 1.0
  b = rng.normal(size=(400, dim)) @ mix_b - 0.5
  assert metrics.frechet_distance(a, b) == pytest.approx(_scipy_frechet(a, b), rel=1e-6)
  assert abs(metrics.frechet_distance(a, a)) < 1e-8 * np.trace(np.cov(a, rowvar=False))


def test_kernel_distance_matches_direct_sum():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(12, 5)), rng.normal(size=(9, 5)) + 0.3
  k = lambda x, y: (x @ y / 5 + 1) ** 3
  same_a = sum(k(a[i], a[j]) for i in range(12) for j in range(12) if i != j) / (12 * 11)
  same_b = sum(k(b[i], b[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
  cross = sum(k(x, y) for x in a for y in b) / (12 * 9)
  assert metrics.kernel_distance(a, b) == pytest.approx(same_a + same_b - 2 * cross, rel=1e-12)
  # Unbiased: two samples of one distribution average to about 0.
  draws = [metrics.kernel_distance(rng.normal(size=(50, 5)), rng.normal(size=(50, 5)))
           for _ in range(40)]
  assert abs(np.mean(draws)) < 3 * np.std(draws) / np.sqrt(len(draws))


def test_inception_score_bounds():
  uniform = np.full((100, 4), 0.25)
  assert metrics.inception_score(uniform, splits=1)[0] == pytest.approx(1.0)
  confident = np.eye(4)[np.arange(100) % 4]
  assert metrics.inception_score(confident, splits=1)[0] == pytest.approx(4.0, rel=1e-6)


def test_psnr_and_ssim():
  a = np.full((2, 16, 16, 3), 0.5, np.float32)
  assert np.allclose(metrics.psnr(a, a + 0.1), 20.0, atol=1e-4)  # MSE 0.01
  noisy = np.clip(a + np.random.default_rng(0).normal(0, 0.2, a.shape), 0, 1).astype(np.float32)
  assert np.allclose(metrics.ssim(a, a), 1.0, atol=1e-5)
  assert np.all(metrics.ssim(a, noisy) < 0.5)


# ---------------------------------------------------------------------------
# ACD.
# ---------------------------------------------------------------------------

def _square_video(colours, size=16):
  """One shape_motion-like video: a square moving right, frame t in colours[t]."""
  video = np.zeros((len(colours), size, size, 3), np.uint8)
  for t, colour in enumerate(colours):
    video[t, 4:10, t:t + 6] = colour
  return video


def test_acd_is_zero_for_constant_colour_and_grows_with_change():
  steady = _square_video([(200, 100, 80)] * 8)
  assert metrics.shape_colour_acd(steady[None])[0] == 0.0
  assert metrics.histogram_acd(steady[None])[0] == 0.0  # motion alone is not content change
  values = [metrics.shape_colour_acd(_square_video(
      [(200, 100 + drift * t, 80) for t in range(8)])[None])[0] for drift in (1, 5, 15)]
  assert 0 < values[0] < values[1] < values[2]
  # Two frames differing by (0, 70, 0): the one pair is 70 apart.
  assert metrics.shape_colour_acd(_square_video([(200, 100, 80), (200, 170, 80)])[None])[0] \
      == pytest.approx(70.0)
  faded = _square_video([(200, 100, 80), (0, 0, 0), (0, 0, 0)])
  assert np.isnan(metrics.shape_colour_acd(faded[None])[0])  # fewer than 2 frames with a shape
  assert metrics.histogram_acd(faded[None])[0] > 0


def test_shape_directions_read_the_dataset_labels():
  rng = np.random.default_rng(0)
  drawn = [shape_motion.render_video(rng, 32, 32) for _ in range(64)]
  videos = np.stack([video[::2] for video, *_ in drawn])
  labels = np.array([motion for _, _, motion, _ in drawn])
  assert len(set(labels)) == 4
  assert np.array_equal(metrics.shape_directions(videos), labels)
  assert np.array_equal(metrics.shape_directions(videos[:, ::-1]), labels ^ 1)  # played backwards
  # Every real clip moves (about 18 px at 32x32 over 16 of its frames); a still one does not.
  moved = np.linalg.norm(metrics.shape_displacements(videos), axis=-1)
  assert moved.min() > 8, moved.min()
  assert np.abs(metrics.shape_displacements(videos[:, :1].repeat(4, 1))).max() == 0
  # Categories that are the labels agree fully; labels of another clip, by chance.
  assert metrics.direction_agreement(metrics.shape_directions(videos), labels) == 1.0
  assert metrics.direction_agreement(metrics.shape_directions(videos), np.roll(labels, 1)) < 0.7


def test_transfer_scores_read_colour_and_direction_from_the_labels():
  rng = np.random.default_rng(1)
  drawn = [shape_motion.render_video(rng, 32, 32) for _ in range(32)]
  videos = np.stack([video[::2] for video, *_ in drawn])
  motions = np.array([motion for _, _, motion, _ in drawn])
  colours = np.stack([colour for *_, colour in drawn])
  a, b = slice(0, None, 2), slice(1, None, 2)
  differ = (motions[a] != motions[b]) & (np.abs(colours[a].astype(int) - colours[b]).max(-1) >= 64)
  ideal = ((videos[b].max(-1, keepdims=True) > 0) * colours[a][:, None, None, None])[differ]
  args = (colours[a][differ], colours[b][differ], motions[a][differ], motions[b][differ])
  scores = metrics.transfer_scores(ideal.astype(np.uint8), *args)  # A's colour on B's path
  assert scores["pairs"] == differ.sum() > 4
  assert scores["colour_of_a"] == 1 and scores["direction_of_b"] == 1
  assert scores["direction_of_a"] == 0 and scores["colour_error"] < 1
  scores = metrics.transfer_scores(videos[b][differ], *args)  # B unchanged
  assert scores["colour_of_a"] == 0 and scores["direction_of_b"] == 1
  assert scores["colour_error"] > 64


def test_resize_matches_tf1_bilinear():
  # TF1 resize_bilinear(align_corners=False, half_pixel_centers=False), 2 -> 4:
  # output i samples input i / 2, the last one clamped.
  expected = np.array([[1, 0], [0.5, 0.5], [0, 1], [0, 1]])
  assert np.allclose(i3d.resize_matrix(2, 4), expected)
  assert np.allclose(i3d.resize_matrix(64).sum(1), 1.0)


# ---------------------------------------------------------------------------
# I3D and the FVD reference example.
# ---------------------------------------------------------------------------

def test_fvd_reference_example():
  """The original FVD code's example: 16 videos of zeros vs 16 of 255s, 15
  frames, 64x64 -> "around 131" there, 133.9-134.2 in faithful ports.

  I3D features depend on a video alone (inference-mode BatchNorm), so the 16
  identical videos of each set have one feature vector: the test checks that on
  two copies and builds the sets of 16 from it, 3 I3D passes instead of 32."""
  variables = i3d.load_variables()
  # Full XLA optimisation for this one program (the suite compiles at level 0): 2x faster.
  features = jax.jit(i3d.features, compiler_options={"xla_backend_optimization_level": 3})
  zeros = np.zeros((2, 15, 64, 64, 3), np.uint8)
  a = np.asarray(features(variables, zeros))
  b = np.asarray(features(variables, np.full((1, 15, 64, 64, 3), 255, np.uint8)))
  assert a.shape == (2, i3d.FEATURES) and np.isfinite(a).all()
  assert np.array_equal(a, np.asarray(features(variables, zeros)))  # deterministic
  assert np.allclose(a[0], a[1], rtol=0, atol=1e-5)  # same video, same features
  fvd = metrics.frechet_distance(np.repeat(a[:1], 16, 0), np.repeat(b, 16, 0))
  assert 130.0 < fvd < 136.0


# ---------------------------------------------------------------------------
# The commands.
# ---------------------------------------------------------------------------

CLIP = ["--length", "9", "--every_nth", "1"]  # tiny16 videos have 16 frames


def test_classifier_evaluate_and_floor(tmp_path, data_dir):
  run = str(tmp_path / "run")
  cli("train", "--config", "tiny", "--workdir", run, f"data_dir={data_dir}")
  _, out, _ = cli("train-classifier", "--workdir", run, "--length", "9", "--steps", "40",
                  "--batch", "16", "--width", "8", "every_nth=1")
  assert "held-out accuracy" in out
  written = sorted(os.listdir(os.path.join(run, "classifier")))
  assert written == ["40", "metrics.jsonl", "tensorboard"], written

  # MCS of held-out real videos is the classifier's held-out accuracy: same
  # clips, drawn through evaluate's path instead of train-classifier's.
  floor = str(tmp_path / "floor.json")
  cli("evaluate", "--workdir", run, "--floor", "--metrics", "acd,mcs,is", "--num", "1024",
      "--batch", "256", "--out", floor, *CLIP)
  report = json.load(open(floor))
  accuracy = report["details"]["classifier_held_out_accuracy"]
  assert report["metrics"]["mcs"] == accuracy and accuracy > 0.5
  assert report["metrics"]["acd"] == 0.0  # real shapes keep their colour
  assert 1.0 < report["metrics"]["is"] <= 4.0

  # --batch 2: chunks are padded to the batch, and I3D on 16 videos is most of a minute.
  _, out, _ = cli("evaluate", "--workdir", run, "--metrics", "fvd,kvd,acd,acd_generic,mcs,is",
                  "--num", "2", "--batch", "2", *CLIP)
  path = out.strip().splitlines()[-1].removeprefix("report: ")
  assert path == os.path.join(run, "eval", "step4_n2.json")
  report = json.load(open(path))
  assert report["evaluated"] == "the mocogan generator at step 4"
  assert report["provenance"]["versions"]["flax"] and report["provenance"]["devices"]["count"] >= 1
  assert report["protocol"] == {"metrics": ["fvd", "kvd", "acd", "acd_generic", "mcs", "is"],
                                "num": 2, "length": 9, "every_nth": 1, "batch": 2, "seed": 0}
  assert set(report["metrics"]) == {"fvd", "kvd", "acd", "acd_generic", "mcs", "is"}
  assert report["metrics"]["fvd"] > 0 and 0 <= report["metrics"]["mcs"] <= 1
  assert os.listdir(os.path.join(run, "eval", "cache"))  # real features kept for next time
  for name in ("fvd", "mcs", "classifier_held_out_accuracy", "N = 2"):
    assert name in out

  # The same numbers on 8 devices, in other chunks (5 videos: chunks padded).
  from conftest import cpu_env
  import subprocess, sys
  args = ["evaluate", "--workdir", run, "--metrics", "acd,acd_generic,mcs,is", "--num", "5", *CLIP]
  cli(*args, "--batch", "3", "--out", str(tmp_path / "one.json"))
  result = subprocess.run([sys.executable, "-m", "mocogan_jax.cli", *args, "--batch", "24",
                           "--out", str(tmp_path / "eight.json")],
                          env=cpu_env(8), capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-2000:]
  one, eight = (json.load(open(tmp_path / f"{n}.json"))["metrics"] for n in ("one", "eight"))
  for name, value in one.items():
    assert eight[name] == pytest.approx(value, rel=1e-5, abs=1e-6), name

  # An exported generator, without its workdir: the same numbers.
  exported = str(tmp_path / "generator.msgpack")
  cli("export", "--workdir", run, "--out", exported)
  cli("evaluate", "--params", exported, "--metrics", "acd,acd_generic,mcs,is", "--num", "5",
      *CLIP, "--batch", "3", "--classifier", os.path.join(run, "classifier"),
      "--out", str(tmp_path / "file.json"))
  assert json.load(open(tmp_path / "file.json"))["metrics"] == one

  # The C3D score with weights the user supplies (narrow random ones here).
  c3d_dir = tmp_path / "c3d"
  c3d_dir.mkdir()
  _write_c3d_files(str(c3d_dir), np.random.default_rng(1))
  _, out, _ = cli("evaluate", "--workdir", run, "--metrics", "is_c3d", "--c3d", str(c3d_dir),
                  "--num", "4", "--batch", "4", "--length", "16")
  report = json.load(open(out.strip().splitlines()[-1].removeprefix("report: ")))
  assert 1.0 <= report["metrics"]["is_c3d"] <= 101.0

  # Mistakes are one line, exit 2.
  for args, message in [
      (["--metrics", "is_c3d", "--length", "16"], "needs --c3d FOLDER"),
      (["--metrics", "is_c3d", "--c3d", str(c3d_dir)] + CLIP, "takes videos of 16 frames"),
      (["--metrics", "fvd,psnr"], "unknown psnr"),
      (["--floor", "--untrained"], "exclude each other"),
      (["--metrics", "mcs", "--length", "10", "--every_nth", "1"], "trained on 9-frame clips"),
      (["--metrics", "kvd", "--length", "16"], "spans 31 frames"),
      (["--metrics", "fvd", "--length", "8"], "at least 9 frames"),
  ]:
    status, _, err = cli("evaluate", "--workdir", run, "--num", "4", *args, check=False)
    assert status == 2 and message in err, err
    assert err.strip().count("\n") == 0, err
  status, _, err = cli("evaluate", "--workdir", str(tmp_path / "none"), check=False)
  assert status == 2 and "not a training workdir" in err


def test_periodic_evaluation_during_training_and_the_best_checkpoint(tmp_path, data_dir):
  from mocogan_jax import checkpointing
  run = str(tmp_path / "run")
  cli("train", "--config", "tiny", "--workdir", run, f"data_dir={data_dir}", "eval_every=2",
      "eval_metrics=acd,acd_generic", "eval_num=8", "eval_length=8", "num_steps=6",
      "checkpoint_every=6", "keep_checkpoints=1", "keep_best=acd_generic")
  lines = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
  evals = {l["step"]: l["eval/acd_generic"] for l in lines if "eval/acd_generic" in l}
  assert list(evals) == [2, 4, 6] and all(v > 0 for v in evals.values())
  # Each evaluation saved a checkpoint; the newest and the best are kept.
  best = min(evals, key=evals.get)
  mngr = checkpointing.manager(os.path.join(run, "checkpoints"))
  assert sorted(mngr.all_steps()) == sorted({best, 6})
  assert checkpointing.best_step(mngr, "acd_generic") == best
  cli("sample", "--workdir", run, "--step", "best", "--num", "2", "--out",
      str(tmp_path / "best.gif"))

  for changes, message in [(["eval_metrics=fvd,bleu"], "eval_metrics"),
                           (["eval_metrics=acd,mcs", "keep_best=mcs"], "keep_best must be")]:
    status, _, err = cli("train", "--config", "tiny", "--workdir", str(tmp_path / "b"),
                         f"data_dir={data_dir}", "eval_every=2", *changes, check=False)
    assert status == 2 and message in err, err
  status, _, err = cli("sample", "--workdir", run, "--step", "last", "--out", "x.gif",
                       check=False)
  assert status == 2 and "a step number or 'best'" in err, err


# ---------------------------------------------------------------------------
# C3D (is_c3d): our port against the Chainer protocol, written out in numpy
# channels-first with OpenCV's resize, on narrow random weights in the file
# layout the TGANv2 release uses.
# ---------------------------------------------------------------------------

def _write_c3d_files(folder, rng, widths=(4, 4, 6, 6, 8, 8, 8, 8), hidden=12):
  from mocogan_jax.evaluation import c3d
  weights, channels = {}, 3
  for name, width in zip(c3d.CONVS, widths):
    weights[f"{name}/W"] = rng.normal(0, 0.3, (width, channels, 3, 3, 3)).astype(np.float32)
    weights[f"{name}/b"] = rng.normal(0, 0.1, width).astype(np.float32)
    channels = width
  for name, (fan_in, fan_out) in zip(c3d.DENSES, [(channels * 16, hidden), (hidden, hidden),
                                                  (hidden, 101)]):
    weights[f"{name}/W"] = rng.normal(0, 0.3, (fan_out, fan_in)).astype(np.float32)
    weights[f"{name}/b"] = rng.normal(0, 0.1, fan_out).astype(np.float32)
  np.savez(os.path.join(folder, c3d.WEIGHTS), **weights)
  mean = rng.uniform(60, 120, (3, 1, 16, 128, 171)).astype(np.float32)
  np.savez(os.path.join(folder, c3d.MEAN), mean=mean)
  return weights, mean


def _chainer_c3d_logits(weights, mean, videos):
  """The TGAN evaluation script's steps, channels-first, in numpy and OpenCV."""
  import cv2
  from numpy.lib.stride_tricks import sliding_window_view
  n, f = videos.shape[:2]
  frames = videos.reshape(n * f, *videos.shape[2:]).astype(np.float32)
  frames = np.stack([cv2.resize(x, (128, 128), interpolation=cv2.INTER_CUBIC) for x in frames])
  x = frames.transpose(3, 0, 1, 2).reshape(3, n, f, 128, 128)
  x = x[::-1] - mean.reshape(3, 1, 16, 128, 171)[..., 21:21 + 128]
  x = x[:, :, :, 8:120, 8:120].transpose(1, 0, 2, 3, 4).astype(np.float64)  # (N, C, T, H, W)

  def conv(x, w, b):
    padded = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1), (1, 1)])
    windows = sliding_window_view(padded, (3, 3, 3), axis=(2, 3, 4))  # N C T H W 3 3 3
    return np.einsum("nctwhijk,ocijk->notwh", windows, w) + b[None, :, None, None, None]

  def pool(x, k):  # stride = window, a partial last window counts (cover_all)
    pads = [(0, 0), (0, 0)] + [(0, -s % w) for s, w in zip(x.shape[2:], k)]
    x = np.pad(x, pads, constant_values=-np.inf)
    nn_, c, t, h, w = x.shape
    x = x.reshape(nn_, c, t // k[0], k[0], h // k[1], k[1], w // k[2], k[2])
    return x.max(axis=(3, 5, 7))

  pools = {"conv1a": (1, 2, 2), "conv2a": (2, 2, 2), "conv3b": (2, 2, 2), "conv4b": (2, 2, 2),
           "conv5b": (2, 2, 2)}
  for name in ("conv1a", "conv2a", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b"):
    x = np.maximum(conv(x, weights[f"{name}/W"], weights[f"{name}/b"]), 0)
    if name in pools:
      x = pool(x, pools[name])
  x = x.reshape(n, -1)
  for name in ("fc6", "fc7"):
    x = np.maximum(x @ weights[f"{name}/W"].T + weights[f"{name}/b"], 0)
  return x @ weights["fc8/W"].T + weights["fc8/b"]


def test_c3d_matches_the_chainer_protocol(tmp_path):
  import cv2
  from mocogan_jax.evaluation import c3d
  rng = np.random.default_rng(0)
  frame = rng.uniform(0, 255, (64, 48, 3)).astype(np.float32)
  ours = np.einsum("ih,hwc->iwc", c3d.cubic_resize_matrix(64), frame)
  ours = np.einsum("jw,iwc->ijc", c3d.cubic_resize_matrix(48), ours)
  assert np.abs(ours - cv2.resize(frame, (128, 128), interpolation=cv2.INTER_CUBIC)).max() < 1e-3

  weights, mean = _write_c3d_files(str(tmp_path), rng)
  videos = rng.integers(0, 256, (2, 16, 32, 32, 3), dtype=np.uint8)
  expected = _chainer_c3d_logits(weights, mean, videos)
  variables = c3d.load(str(tmp_path))
  got = np.asarray(jax.jit(lambda v, x: c3d.logits(v["params"], c3d.preprocess(x, v["mean"])))(
      variables, videos))
  assert got.shape == (2, 101) and np.std(expected) > 1
  assert np.abs(got - expected).max() < 1e-4 * np.abs(expected).max()
  probabilities = np.asarray(c3d.probabilities(variables, videos))
  assert np.allclose(probabilities.sum(-1), 1.0, atol=1e-5)
  with pytest.raises(Exception, match="conv3d_deepnetA_ucf.npz"):
    c3d.load(str(tmp_path / "missing"))


def test_an_unconditional_model_is_evaluated_with_the_classifier(tmp_path, data_dir):
  """IS reads an unconditional generator's own draws: no category is forced on it."""
  run = str(tmp_path / "tgan")
  cli("train", "--config", "tiny", "--workdir", run, f"data_dir={data_dir}", "model=tgan",
      "n_categories=0", "use_categories=false", "use_infogan=false", "noise_sigma=0",
      "every_nth=1", "num_steps=2")
  cli("train-classifier", "--workdir", run, "--length", "8", "--steps", "10", "--batch", "8",
      "--width", "8")
  _, out, _ = cli("evaluate", "--workdir", run, "--metrics", "acd,is", "--num", "2", "--length",
                  "8")
  report = json.load(open(out.strip().splitlines()[-1].removeprefix("report: ")))
  assert report["evaluated"] == "the tgan generator at step 2"
  assert 1.0 <= report["metrics"]["is"] <= 4.0
