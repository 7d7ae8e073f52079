"""The command line, end to end on the tiny config, as a user runs it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mocogan_jax import config as config_lib
from mocogan_jax.config import Config
from mocogan_jax.models.mocogan import model_info

from conftest import cli


def run_cli(*args, check=True):
  result = subprocess.run([sys.executable, "-m", "mocogan_jax", *args],
                          capture_output=True, text=True, timeout=600)
  if check:
    assert result.returncode == 0, result.stderr[-3000:]
  return result


@pytest.mark.filterwarnings("ignore:os.fork")  # imageio-ffmpeg starts ffmpeg: fork + exec
def test_train_then_sample(tmp_path, data_dir):
  """The commands in this process, as a user chains them (the interpreter's
  start is tested by the other tests' subprocesses)."""
  workdir = str(tmp_path / "run")
  _, out, err = cli("train", "--config", "tiny", "--workdir", workdir, f"data_dir={data_dir}")
  gif = out.strip().splitlines()[-1].removeprefix("samples: ")
  assert os.path.exists(gif) and gif.startswith(os.path.join(workdir, "samples"))
  frames = Image.open(gif)
  assert frames.n_frames == 8
  lines = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [l["step"] for l in lines] == [2, 4]
  assert all(np.isfinite(l["loss/generator"]) for l in lines)
  saved = json.load(open(os.path.join(workdir, "config.json")))
  assert saved["image_size"] == 16 and saved["data_dir"] == data_dir
  assert os.listdir(os.path.join(workdir, "checkpoints")) == ["4"]
  assert os.listdir(os.path.join(workdir, "tensorboard"))
  record = json.load(open(os.path.join(workdir, "provenance.json")))
  assert record["versions"]["jax"] and record["devices"]["platform"] == "cpu", record
  from mocogan_jax import checkpointing
  meta = checkpointing.read_meta(checkpointing.manager(os.path.join(workdir, "checkpoints")), 4)
  assert meta["provenance"]["versions"] == record["versions"]

  # Training again to more steps resumes from the checkpoint.
  _, out, err = cli("train", "--workdir", workdir, "num_steps=6")
  log = err + out
  assert "resuming" in log
  # Not on a terminal: a header, then plain lines (no carriage-return bar).
  assert "\r" not in log and "step 6/6" in log and "mocogan parameters: generator" in log, log
  lines = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [l["step"] for l in lines] == [2, 4, 6]

  # Changing the model of an existing run is refused before anything is written.
  status, _, err = cli("train", "--workdir", workdir, "ngf=16", check=False)
  assert status == 2 and "holds a run with ngf=8, not 16" in err
  assert json.load(open(os.path.join(workdir, "config.json")))["ngf"] == 8

  for mode in ("random", "fixed-content", "fixed-motion"):
    path = str(tmp_path / f"{mode}.gif")
    cli("sample", "--workdir", workdir, "--out", path, "--num", "4", "--length", "12",
        "--mode", mode, "--category", "2")
    assert Image.open(path).n_frames == 12
  mp4 = str(tmp_path / "s.mp4")
  cli("sample", "--workdir", workdir, "--out", mp4, "--num", "2")
  assert os.path.getsize(mp4) > 0

  # An older checkpoint by its step; a step that was not kept is one line.
  cli("sample", "--workdir", workdir, "--step", "4", "--out", str(tmp_path / "4.gif"),
      "--num", "2")
  assert os.path.getsize(tmp_path / "4.gif") > 0
  status, _, err = cli("export", "--workdir", workdir, "--step", "5", "--out",
                       str(tmp_path / "5.msgpack"), check=False)
  assert status == 2 and err.strip() == (
      f"mocogan-jax export: error: --step 5: no such checkpoint in "
      f"{os.path.join(workdir, 'checkpoints')} (kept: 4, 6)"), err

  status, _, err = cli("sample", "--workdir", workdir, "--out", str(tmp_path / "x.avi"),
                       check=False)
  assert status == 2 and err.strip().count("\n") == 0 and ".gif or .mp4" in err
  status, _, err = cli("sample", "--workdir", workdir, "--out", mp4, "--category", "9",
                       check=False)
  assert status == 2 and "--category" in err


def test_config_prints_the_resolved_preset_and_version_and_help_name_the_presets():
  from mocogan_jax import registry
  _, out, _ = cli("config", "demo", "num_steps=7", "ema_decay=0")
  assert json.loads(out) == json.loads(
      registry.resolve("demo", ["num_steps=7", "ema_decay=0"]).to_json())
  assert json.loads(out)["num_steps"] == 7
  version = run_cli("--version").stdout.split()
  assert version[0] == "mocogan-jax" and version[1][0].isdigit(), version
  assert "presets: conditional_demo, demo, shapes_64" in " ".join(run_cli("--help").stdout.split())


def test_user_errors_are_one_line(tmp_path):
  cases = [
      (("train", "--config", "nope", "--workdir", str(tmp_path / "a")), "unknown config 'nope'"),
      (("train", "--config", "tiny", "--workdir", str(tmp_path / "b"), "ngff=3"),
       "unknown config key 'ngff'"),
      (("train", "--config", "tiny", "--workdir", str(tmp_path / "c"), "image_size=48"),
       "image_size must be one of"),
      (("train", "--config", "tiny", "--workdir", str(tmp_path / "d"), "ngf=abc"),
       "ngf must be int"),
      (("train", "--workdir", str(tmp_path / "e")), "no --config given"),
      (("train", "--config", "tiny", "--workdir", str(tmp_path / "h"), "encoder_weight=-1"),
       "encoder_weight must be >= 0"),
      (("train", "--config", "tiny", "--workdir", str(tmp_path / "i"), "ema_decay=1"),
       "ema_decay must be in [0, 1)"),
      (("sample", "--workdir", str(tmp_path / "f"), "--out", "x.gif"), "not a training workdir"),
      (("train", "--config", "tiny", "--workdir", str(tmp_path / "g"), "video_length=3"),
       "video_length=3 is too short for the video discriminator"),
      (("train", "--config", "tiny", "--workdir", str(tmp_path / "a_file" / "run")),
       f"workdir {tmp_path / 'a_file' / 'run'} is not writable"),
  ]
  (tmp_path / "a_file").write_text("not a folder")
  for args, message in cases:
    status, _, err = cli(*args, check=False)
    assert status == 2, (args, err[-2000:])
    assert message in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
  # And from a fresh interpreter, as a user meets it.
  result = run_cli(*cases[0][0], check=False)
  assert result.returncode == 2 and result.stderr.strip() == (
      "mocogan-jax train: error: unknown config 'nope'; presets: "
      + ", ".join(config_lib.preset_names())), result.stderr


def test_overrides_are_read_before_and_after_flags():
  from mocogan_jax.cli import parse
  args = parse(["train", "--config", "tiny", "data_dir=D", "--workdir", "W", "num_steps=30"])
  assert (args.workdir, args.overrides) == ("W", ["data_dir=D", "num_steps=30"])
  # In the order given: the last of a key wins.
  assert parse(["info", "ngf=8", "--config", "tiny", "ngf=16"]).overrides == ["ngf=8", "ngf=16"]
  status, _, err = cli("info", "--config", "tiny", "ngf=8", "--bogus", "1", check=False)
  assert status == 2 and "unrecognized arguments: --bogus 1" in err


def test_info_reports_official_parameter_counts():
  info = model_info(Config())
  assert info["parameters"] == {"generator": 3_298_836, "motion_rnn": 660,
                                "image_discriminator": 663_296,
                                "video_discriminator": 11_253_504}
  assert info["latent"].startswith("66 per frame") and info["flops_per_step"] > 1e9
  out = run_cli("info", "--config", "shapes_64", "--json", "image_discriminator=full")
  assert json.loads(out.stdout)["parameters"]["image_discriminator"] == 2_765_568
