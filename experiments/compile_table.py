"""The table of docs/scaling.md, "Before booking a pod": the train step of each
config compiled for each TPU topology on this CPU (`mocogan-jax compile`).

    .venv/bin/python experiments/compile_table.py [--only CONFIG ...] [--topologies T ...]

Every row is the command printed beside it, run as a subprocess, with 4
videos per chip (images in the config's ratio). shapes_64 is compiled for every
topology, and every config for v5e:16x16. The largest per-chip batch is
read from a second compile of the same row at 8 videos per chip: memory per
chip is linear in the batch until the compiler starts to rematerialise, so
the line through the two reaches the chip's memory at about the largest
batch (`--max_batch` searches it exactly, at 5-10 minutes a compile near the
limit). Each
finished row is appended to experiments/compile_table.jsonl, and a row
already there is not compiled again: stop it at any time and run the same
command to go on. Prints the markdown table of every row in the file.
A compile takes 1-10 minutes on one core (more for larger batches).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = os.path.join(ROOT, "experiments", "compile_table.jsonl")
CONFIGS = {  # name: (preset, overrides)
    "shapes_64": ("shapes_64", []),
    "shapes_64_paper": ("shapes_64_paper", []),
    "vgan_64": ("vgan_64", []),
    "tgan_64": ("tgan_64", []),
    "mocogan_128": ("shapes_64", ["image_size=128", "dataset=shape_motion/128"]),
    "mocogan_256": ("shapes_64", ["image_size=256", "dataset=shape_motion/256"]),
}
# (topology, slices)
TOPOLOGIES = [("v5e:2x2", 1), ("v5e:16x16", 1), ("v4:4x4x8", 1), ("v5p:4x4x4", 1),
              ("v6e:16x16", 1), ("v5e:16x16", 2)]
ROWS = ([("shapes_64", topology, slices) for topology, slices in TOPOLOGIES]
        + [(name, "v5e:16x16", 1) for name in CONFIGS if name != "shapes_64"])
VIDEOS_PER_CHIP = 4
SECOND_VIDEOS_PER_CHIP = 8  # the second point of the line to the chip's memory


def chips(topology: str, slices: int) -> int:
  count = slices
  for size in topology.split(":")[1].split("x"):
    count *= int(size)
  return count


def command(name: str, topology: str, slices: int, videos_per_chip: int,
            extra=()) -> list[str]:
  """The row's `mocogan-jax compile` command line."""
  from mocogan_jax import aot, registry
  preset, overrides = CONFIGS[name]
  config = registry.resolve(preset, overrides)
  batch = aot.per_chip_batch(config, videos_per_chip, chips(topology, slices))
  line = ["mocogan-jax", "compile", "--config", preset, "--topology", topology]
  if slices > 1:
    line += ["--num_slices", str(slices)]
  return line + list(overrides) + [f"video_batch={batch.video_batch}",
                                   f"image_batch={batch.image_batch}", *extra]


def row_key(name: str, topology: str, slices: int, extra=()) -> str:
  return " ".join([name, topology, str(slices), *extra])


def load() -> dict:
  if not os.path.exists(TABLE):
    return {}
  with open(TABLE) as f:
    return {row["key"]: row for row in map(json.loads, f)}


def compile_report(line: list[str]) -> dict:
  """The JSON report of one `mocogan-jax compile` (written when refused too)."""
  with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "row.json")
    # Its progress goes to this script's stderr.
    subprocess.run([os.path.join(ROOT, ".venv", "bin", line[0]), *line[1:], "--json", out],
                   cwd=ROOT, stdout=subprocess.DEVNULL)
    if not os.path.exists(out):
      sys.exit(f"{' '.join(line)} failed (its error is above)")
    with open(out) as f:
      return json.load(f)


def largest_batch(first: dict, second: dict) -> str:
  """Videos per chip where the line through the two compiles' memory meets the
  chip's HBM ("a-b" when the second was refused, "< 4" when both were, "-"
  when the second needs less memory than the first)."""
  if not first["fits"]:
    return f"< {VIDEOS_PER_CHIP}"
  if not second["fits"]:
    return f"{VIDEOS_PER_CHIP}-{SECOND_VIDEOS_PER_CHIP - 1}"
  m1, m2 = first["memory_bytes"]["total"], second["memory_bytes"]["total"]
  slope = (m2 - m1) / (SECOND_VIDEOS_PER_CHIP - VIDEOS_PER_CHIP)
  if slope <= 0:  # the compiler laid the larger batch out in less memory: no line
    return "-"
  return f"~{int(SECOND_VIDEOS_PER_CHIP + (first['hbm_bytes'] - m2) / slope)}"


def run_row(name: str, topology: str, slices: int, extra=()) -> dict:
  line = command(name, topology, slices, VIDEOS_PER_CHIP, extra)
  report = compile_report(line)
  second = compile_report(command(name, topology, slices, SECOND_VIDEOS_PER_CHIP, extra))
  return {"key": row_key(name, topology, slices, extra), "name": name,
          "command": " ".join(line), "largest_batch": largest_batch(report, second), **report}


def markdown(rows) -> str:
  head = ("| config | topology | chips (data x fsdp) | GiB per chip | TFLOP per chip per "
          "step | HBM GB per step | collectives: count (MiB) | roofline ms | videos/s, pod | "
          "largest batch per chip | compile s |\n|" + "---|" * 11)
  lines = [head]
  for r in rows:
    slices = f" x {r['num_slices']}" if r["num_slices"] > 1 else ""
    name = " ".join([r["name"], *r["key"].split()[3:]])
    if not r["fits"]:
      lines.append(f"| {name} | {r['topology']}{slices} | {r['chips']} | does not fit | - | - "
                   f"| - | - | - | {r['largest_batch']} | {r['compile_s']:.0f} |")
      continue
    mesh, memory = r["mesh"], r["memory_bytes"]
    coll = ", ".join(f"{k} {v['count']} ({v['bytes'] / 2**20:.0f})"
                     for k, v in sorted(r["collectives"].items())) or "none"
    lines.append(
        f"| {name} | {r['topology']}{slices} | {r['chips']} ({mesh['data']} x {mesh['fsdp']}) "
        f"| {memory['total'] / 2**30:.2f} "
        f"| {r['flops'] / 1e12:.3f} | {r['bytes_accessed'] / 1e9:.2f} | {coll} "
        f"| {r['roofline_s'] * 1e3:.2f} ({r['bound']}) | {r['videos_per_s']:,.0f} "
        f"| {r['largest_batch']} | {r['compile_s']:.0f} |")
  return "\n".join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--only", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
  parser.add_argument("--topologies", nargs="*", default=None,
                      help="e.g. v5e:2x2 (default: every topology of the table)")
  parser.add_argument("--extra", nargs="*", default=[],
                      help="key=value changes for a before/after row (e.g. mesh_fsdp=4)")
  args = parser.parse_args()
  done = load()
  for name, topology, slices in ROWS:
    if name not in args.only or (args.topologies and topology not in args.topologies):
      continue
    key = row_key(name, topology, slices, args.extra)
    if key in done:
      continue
    print(f"compiling {key} ...", file=sys.stderr, flush=True)
    row = run_row(name, topology, slices, args.extra)
    with open(TABLE, "a") as f:
      f.write(json.dumps(row) + "\n")
    done[key] = row
  print(markdown(done.values()))


if __name__ == "__main__":
  main()
