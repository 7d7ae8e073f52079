"""Folder datasets (data/video_folder.py): image strips, video files, GIFs,
class subfolders, and what happens to broken or short videos."""

import os

import numpy as np
import pytest
from PIL import Image

from conftest import cli, tiny_config_with
from mocogan_jax.errors import ConfigError
from mocogan_jax.data import pipeline


def _strip(frames: np.ndarray) -> np.ndarray:
  """(F, S, S, C) -> (S, F * S, C), the official MoCoGAN layout."""
  return np.concatenate(list(frames), axis=1)


def _by_path(source) -> dict:
  return {bytes(source[i]["path"]).decode(): source[i] for i in range(len(source))}


@pytest.fixture
def strips(tmp_path):
  """Two classes of 16x16 strips: 3 good 20-frame videos (one RGBA), one of 5
  frames (too short for the tiny clip of 15), one broken file."""
  rng = np.random.default_rng(0)
  videos = {}
  for name, frames, cls in [("a", 20, "jump"), ("b", 20, "walk"), ("short", 5, "walk")]:
    video = rng.integers(0, 256, (frames, 16, 16, 3), dtype=np.uint8)
    os.makedirs(tmp_path / "strips" / cls, exist_ok=True)
    Image.fromarray(_strip(video)).save(tmp_path / "strips" / cls / f"{name}.png")
    videos[f"{cls}/{name}.png"] = video
  rgba = rng.integers(0, 256, (20, 16, 16, 4), dtype=np.uint8)
  Image.fromarray(_strip(rgba), "RGBA").save(tmp_path / "strips" / "jump" / "rgba.png")
  videos["jump/rgba.png"] = rgba[..., :3]
  (tmp_path / "strips" / "walk" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
  return str(tmp_path / "strips"), videos


def test_image_strips_with_class_folders(tmp_path, strips, capsys):
  folder, videos = strips
  config = tiny_config_with(str(tmp_path / "tfds"), dataset=f"folder:{folder}", label_key="label")
  source = pipeline.load_source(config)
  out = capsys.readouterr().out
  assert "3 videos, 1 dropped as shorter than 15 frames" in out and "1 unreadable" in out, out
  assert "skipping unreadable video" in out and "broken.png" in out
  got = _by_path(source)
  assert sorted(got) == ["jump/a.png", "jump/rgba.png", "walk/b.png"]
  for path, example in got.items():
    np.testing.assert_array_equal(example["video"], videos[path], err_msg=path)  # PNG: exact
    assert example["label"] == ["jump", "walk"].index(path.split("/")[0])
  batch = pipeline.make_batch(source, config, step=0)
  assert batch["video"].shape == (2, 8, 16, 16, 3) and set(batch["label"]) <= {0, 1}

  # Broken files can stop the build instead, naming the file.
  with pytest.raises(ConfigError, match="broken.png"):
    pipeline.load_source(config.replace(bad_files="fail"))


def test_frames_are_resized_and_centre_cropped(tmp_path):
  os.makedirs(tmp_path / "flat")
  # 20 GIF frames of 32 x 48 (w x h): red over blue, with green bands in the rows
  # the centre crop removes (where each frame also gets a mark, so that the GIF
  # writer keeps all 20 frames).
  frames = []
  for i in range(20):
    frame = np.zeros((48, 32, 3), np.uint8)
    frame[:8] = frame[40:] = (0, 255, 0)
    frame[8:24] = (255, 0, 0)
    frame[24:40] = (0, 0, 255)
    frame[0, i] = (255, 255, 255)
    frames.append(Image.fromarray(frame))
  frames[0].save(tmp_path / "flat" / "tall.gif", save_all=True, append_images=frames[1:])
  config = tiny_config_with(str(tmp_path / "tfds"), dataset=f"folder:{tmp_path / 'flat'}",
                            use_categories=False)
  (example,) = [pipeline.load_source(config)[0]]
  video = example["video"]
  assert video.shape == (20, 16, 16, 3) and "label" not in example
  # 32 x 48 -> 16 x 24, centre 16 rows: 4 rows of green cut on each side.
  np.testing.assert_array_equal(video[0, 1:7, 4], [(255, 0, 0)] * 6)
  np.testing.assert_array_equal(video[0, 9:15, 4], [(0, 0, 255)] * 6)
  gray = pipeline.load_source(config.replace(channels=1))[0]["video"]
  assert gray.shape == (20, 16, 16, 1) and abs(int(gray[0, 3, 4, 0]) - 76) <= 1  # ITU-R 601 red


def _write_mp4(path, frames):
  import imageio_ffmpeg
  writer = imageio_ffmpeg.write_frames(str(path), (frames.shape[2], frames.shape[1]), fps=8,
                                       macro_block_size=1, quality=9)
  writer.send(None)
  for frame in frames:
    writer.send(np.ascontiguousarray(frame))
  writer.close()


@pytest.mark.filterwarnings("ignore:os.fork")  # imageio-ffmpeg starts ffmpeg: fork + exec
def test_video_files_with_a_corrupt_and_a_short_one(tmp_path):
  colours = {"red": (220, 30, 30), "blue": (30, 30, 220)}
  for name, colour in colours.items():
    os.makedirs(tmp_path / "mp4" / name)
    _write_mp4(tmp_path / "mp4" / name / "clip.mp4", np.full((18, 24, 32, 3), colour, np.uint8))
  _write_mp4(tmp_path / "mp4" / "red" / "short.mp4", np.zeros((6, 24, 32, 3), np.uint8))
  (tmp_path / "mp4" / "blue" / "corrupt.mp4").write_bytes(os.urandom(2048))
  config = tiny_config_with(str(tmp_path / "tfds"), dataset=f"folder:{tmp_path / 'mp4'}",
                            label_key="label")
  got = _by_path(pipeline.load_source(config))
  assert sorted(got) == ["blue/clip.mp4", "red/clip.mp4"]
  for path, example in got.items():
    assert example["video"].shape == (18, 16, 16, 3)
    mean = example["video"].reshape(-1, 3).mean(0)
    np.testing.assert_allclose(mean, colours[path.split("/")[0]], atol=12)  # lossy codec
    assert example["label"] == ["blue", "red"].index(path.split("/")[0])


def test_a_folder_without_usable_videos_is_one_clear_error(tmp_path):
  os.makedirs(tmp_path / "short")
  Image.fromarray(np.zeros((16, 16 * 4, 3), np.uint8)).save(tmp_path / "short" / "v.png")
  config = tiny_config_with(str(tmp_path / "tfds"), dataset=f"folder:{tmp_path / 'short'}",
                            use_categories=False)
  with pytest.raises(ConfigError, match="no usable video in .*: 0 videos, 1 dropped as "
                                        "shorter than 15 frames"):
    pipeline.load_source(config)
  with pytest.raises(ConfigError, match="dataset folder .*nowhere not found"):
    pipeline.load_source(config.replace(dataset=f"folder:{tmp_path / 'nowhere'}"))


def test_training_from_a_folder_through_the_command_line(tmp_path, strips):
  folder, _ = strips
  _, out, _ = cli("train", "--config", "tiny", "--workdir", str(tmp_path / "run"),
                  f"dataset=folder:{folder}", "label_key=label", f"data_dir={tmp_path / 'tfds'}",
                  "num_steps=20", "log_every=20")
  assert "3 videos" in out
  assert "20" in os.listdir(tmp_path / "run" / "checkpoints")


@pytest.fixture
def bad_folder(tmp_path):
  """A flat folder: 3 good 20-frame strips, one of frames twice the size
  (resized, so good), and one each of too short, empty, truncated, not an
  image, and narrower than high (no frame)."""
  rng = np.random.default_rng(1)
  folder = tmp_path / "mixed"
  folder.mkdir()
  for name in ("a", "b", "c"):
    Image.fromarray(_strip(rng.integers(0, 256, (20, 16, 16, 3), np.uint8))).save(
        folder / f"{name}.png")
  Image.fromarray(_strip(rng.integers(0, 256, (20, 32, 32, 3), np.uint8))).save(
      folder / "big.png")
  Image.fromarray(_strip(rng.integers(0, 256, (5, 16, 16, 3), np.uint8))).save(
      folder / "short.png")
  (folder / "empty.png").write_bytes(b"")
  whole = (folder / "a.png").read_bytes()
  (folder / "truncated.png").write_bytes(whole[:len(whole) // 2])
  (folder / "text.gif").write_text("not a video")
  Image.fromarray(np.zeros((16, 8, 3), np.uint8)).save(folder / "narrow.png")
  return folder


def test_bad_videos_are_counted_and_named_and_training_never_meets_one(tmp_path, bad_folder,
                                                                       capsys):
  config = tiny_config_with(str(tmp_path / "tfds"), dataset=f"folder:{bad_folder}",
                            use_categories=False)
  source = pipeline.load_source(config)
  printed = capsys.readouterr().out
  assert ("4 videos, 1 dropped as shorter than 15 frames (video_length=8, every_nth=2) "
          "(short.png), 4 unreadable (empty.png, narrow.png, text.gif, truncated.png)") in printed
  assert printed.count("warning: skipping unreadable video") == 4
  # What a run reads is only what the build checked: every example whole.
  assert sorted(_by_path(source)) == ["a.png", "b.png", "big.png", "c.png"]
  for i in range(len(source)):
    video = source[i]["video"]
    assert video.dtype == np.uint8 and video.shape == (20, 16, 16, 3)
  with pytest.raises(ConfigError, match=r"unreadable video .*empty\.png.*bad_files=skip"):
    pipeline.load_source(config.replace(bad_files="fail"))


def test_an_interrupted_build_is_never_read_and_the_next_call_builds_it_whole(
    tmp_path, bad_folder, monkeypatch):
  from mocogan_jax.data import video_folder
  config = tiny_config_with(str(tmp_path / "tfds"), dataset=f"folder:{bad_folder}",
                            use_categories=False)
  read, calls = video_folder.read_video, []

  def interrupted(*args):
    calls.append(args)
    if len(calls) == 3:
      raise KeyboardInterrupt  # Ctrl-C in the middle of the build
    return read(*args)

  monkeypatch.setattr(video_folder, "read_video", interrupted)
  with pytest.raises(KeyboardInterrupt):
    pipeline.load_source(config)
  monkeypatch.setattr(video_folder, "read_video", read)
  assert not pipeline._builder_factory(config, config.data_dir)().is_prepared()
  source = pipeline.load_source(config)
  assert sorted(_by_path(source)) == ["a.png", "b.png", "big.png", "c.png"]
