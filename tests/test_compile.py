"""`mocogan-jax compile`: the train step compiled for a TPU topology on this CPU
(libtpu from the `tpu` extra; no TPU is touched), and what it reads from it."""

import json
import re

import pytest

from conftest import cli
from mocogan_jax import aot, config as config_lib, sharding
from mocogan_jax.errors import ConfigError


def test_compile_reports_a_tpu_program(tmp_path):
  report_file = tmp_path / "report.json"
  _, out, err = cli("compile", "--config", "tiny", "--topology", "v5e:2x2",
                    "--json", str(report_file), "image_batch=8", "video_batch=4")
  assert "INVALID_ARGUMENT" not in err and "TPU_WORKER_HOSTNAMES" not in err  # libtpu kept quiet
  assert "compilation cache" not in err  # a TPU program is never stored there
  report = json.loads(report_file.read_text())
  assert report["chips"] == 4 and report["mesh"] == {"data": 4, "fsdp": 1} and report["fits"]
  # conv_impl=auto follows the TPU, not this CPU host (which would pick matmul).
  assert report["conv_impl"] == "native"
  assert (report["video_batch_per_chip"], report["image_batch_per_chip"]) == (1, 2)
  memory = report["memory_bytes"]
  assert memory["arguments"] > 0 and memory["temporaries"] > 0
  assert 0 < memory["total"] < report["hbm_bytes"] == 16 * 2**30
  assert report["flops"] > 1e6 and report["bytes_accessed"] > 0
  # The BatchNorm statistics of the global batch and the gradients are summed over chips.
  assert report["collectives"]["all-reduce"]["count"] >= 2
  assert report["collectives"]["all-reduce"]["bytes"] > 0
  assert report["roofline_s"] > 0 and report["videos_per_s"] == pytest.approx(
      4 / report["roofline_s"])
  assert "memory per chip" in out and "roofline" in out and "all-reduce" in out


def test_compile_refuses_a_step_larger_than_a_chip_in_one_line(tmp_path):
  """A generator of 2 billion parameters: with Adam's moments about 48 GiB per
  v5e chip, which libtpu's compiler refuses (in about 20 s)."""
  report_file = tmp_path / "report.json"
  status, _, err = cli("compile", "--config", "tiny", "--topology", "v5e:2x2", "ngf=8192",
                       "image_batch=8", "video_batch=4", "--json", str(report_file),
                       check=False)
  assert status == 2, err
  (line,) = [line for line in err.splitlines() if "error:" in line]
  assert re.search(r"does not fit a TPU v5 lite chip: it needs [\d.]+ GiB where the compiler "
                   r"has 15.75 GiB, [\d.]+ GiB over \(the state is [\d.]+ GiB of it\)", line), line
  assert "(mesh_fsdp) alone cannot" in line and "--max_batch" in line and "Traceback" not in err
  report = json.loads(report_file.read_text())
  assert report["fits"] is False and report["chips"] == 4


@pytest.mark.parametrize("argv, says", [
    (["--topology", "x100:8"], "CHIP one of v4, v5e, v5p, v6e"),
    (["--topology", "h100:9"], "GPU one of h100, h200, a100, 1 to 8 per host"),
    (["--topology", "h100:8"],
     'compiling for GPUs needs the CUDA plugin: pip install -e ".[cuda]"'),
    (["--topology", "v5e:3x7"], "libtpu cannot make topology 'v5e:3x7'"),
    (["--topology", "v5e:2x2", "--num_slices", "0"], "--num_slices must be >= 1"),
    (["--topology", "v5e:2x2", "image_batch=6"], "image_batch=6 does not divide over the 4"),
])
def test_compile_bad_input_is_one_line(argv, says):
  status, _, err = cli("compile", "--config", "tiny", *argv, check=False)
  assert status == 2 and says in err, err
  assert len([line for line in err.splitlines() if "error:" in line]) == 1


def test_multislice_mesh_keeps_fsdp_inside_a_slice():
  devices = aot.topology_devices("v5e:2x2", num_slices=2)
  assert sorted({d.slice_index for d in devices}) == [0, 1]
  config = config_lib.Config(mesh_fsdp=2)
  mesh = sharding.make_mesh(config, devices)
  assert dict(mesh.shape) == {"data": 4, "fsdp": 2}
  grid = mesh.devices  # (data, fsdp)
  for row in grid:  # one fsdp group: one slice
    assert len({d.slice_index for d in row}) == 1
  assert [row[0].slice_index for row in grid] == [0, 0, 1, 1]
  with pytest.raises(ConfigError, match="multiple of the 2 slices"):
    sharding.make_mesh(config.replace(mesh_data=1, mesh_fsdp=8), devices)


@pytest.mark.parametrize("first", [3, 700])
def test_largest_batch_is_the_last_that_fits(monkeypatch, first):
  """The search over compiles, on a memory that grows linearly with the batch
  and then stops growing (the compiler recomputes activations to fit) until
  it refuses: from a batch that fits and from one refused, it ends on the
  exact largest batch the compiler accepts."""
  hbm, accepted = 16 * 2**30, 641

  def memory(videos):
    return min(3e8 + 2.6e7 * videos, 14.1 * 2**30)

  tried = []

  def fake_compile(config, devices):
    videos = config.video_batch // len(devices)
    assert config.image_batch == len(devices) * round(videos * 10 / 3)
    tried.append(videos)
    if videos > accepted:
      raise aot.DoesNotFit("refused")
    return videos, None

  monkeypatch.setattr(aot, "compile_train_step", fake_compile)
  monkeypatch.setattr(aot, "memory_total", memory)
  config = config_lib.Config(image_batch=40, video_batch=12)
  known = {first: memory(first) if first <= accepted else None}
  videos, compiles = aot.largest_batch(config, [None] * 4, hbm, known, log=lambda line: None)
  assert videos == accepted and compiles == len(tried) <= 14, tried


def test_collectives_are_counted_by_instruction():
  hlo = """
  %all-reduce.1 = (f32[512]{0:T(512)}, f32[4,4,66,512]{3,2,1,0}) all-reduce(%a, %b), channel_id=2, to_apply=%add
  %get-tuple-element.9 = f32[512]{0} get-tuple-element(%all-reduce.1), index=0, metadata={op_name="all-reduce"}
  %all-gather-start.2 = ((bf16[8,128]{1,0}), bf16[32,128]{1,0}) all-gather-start(%c), dimensions={0}
  %all-gather-done.2 = bf16[32,128]{1,0} all-gather-done(%all-gather-start.2)
  ROOT %reduce-scatter.3 = f32[16]{0} reduce-scatter(%d), dimensions={0}, to_apply=%add
  %fusion.4 = f32[16]{0} fusion(%all-reduce.1), kind=kLoop, calls=%all-reduce-fusion
  """
  assert aot.collectives(hlo) == {
      "all-reduce": {"count": 1, "bytes": 4 * 512 + 4 * 4 * 4 * 66 * 512},
      "all-gather": {"count": 1, "bytes": 2 * 32 * 128},
      "reduce-scatter": {"count": 1, "bytes": 4 * 16},
  }


def test_does_not_fit_names_the_setting_that_would_fit():
  said = ("RESOURCE_EXHAUSTED: Ran out of memory on HBM, the total memory required for HLO "
          "temporaries (20.00G) exceeds available HBM (15.75G).")
  mesh = sharding.make_mesh(config_lib.Config(), aot.topology_devices("v5e:2x2"))
  line = aot.does_not_fit(said, 12 * 2**30, mesh, "TPU v5 lite")
  assert "needs 20.00 GiB where the compiler has 15.75 GiB, 4.25 GiB over" in line
  assert "mesh_fsdp=2 splits the state 2 ways" in line
  assert "(mesh_fsdp) alone cannot" in aot.does_not_fit(said, 2 * 2**30, mesh, "TPU v5 lite")
  assert aot.does_not_fit("RESOURCE_EXHAUSTED: other words\nmore", 0, mesh, "v") == (
      "the step does not fit a v chip: RESOURCE_EXHAUSTED: other words")


def test_commands_on_a_host_without_tpu_leave_libtpu_out():
  """libtpu is installed here (the test extra); a command that initialises JAX
  on this TPU-less host starts it no more than JAX starts CUDA without a GPU."""
  import os
  import subprocess
  import sys
  env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
  result = subprocess.run([sys.executable, "-m", "mocogan_jax", "info", "--config", "tiny"],
                          env=env, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "FLOPs per train step" in result.stdout
  assert "TPU" not in result.stderr, result.stderr[-2000:]


def test_a_gpu_topology_is_the_card_as_the_cuda_compiler_reads_it():
  """The compile itself needs the cuda extra (about 4 GB, not in the test
  install); what it is given is checked here."""
  assert aot.chip_of("h100:2x8") is aot.GPUS["h100"] and aot.chip_of("a100:1") is aot.GPUS["a100"]
  text = aot.GPUS["h100"].target_config()
  for field in ("core_count: 132", "device_memory_size: 80000000000",
                "cuda_compute_capability { major: 9 minor: 0 }", 'platform_name: "CUDA"',
                'device_description_str: "NVIDIA H100 80GB HBM3"'):
    assert field in text, field
  assert "major: 8" in aot.GPUS["a100"].target_config()
