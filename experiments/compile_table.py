"""The table of docs/scaling.md, "Before booking a pod": the train step of each
config compiled for each TPU topology on this CPU (`mocogan-jax compile`).

    .venv/bin/python experiments/compile_table.py [--only CONFIG ...] [--topologies T ...]

Every row is the command printed beside it, run as a subprocess, with 4
videos per chip (images in the config's ratio); rows on the first topology of
each chip kind also search the largest per-chip batch (--max_batch). Each
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
# (topology, slices); the first of each chip kind also finds the largest batch.
TOPOLOGIES = [("v5e:2x2", 1), ("v5e:16x16", 1), ("v4:4x4x8", 1), ("v5p:4x4x4", 1),
              ("v6e:16x16", 1), ("v5e:16x16", 2)]
VIDEOS_PER_CHIP = 4


def chips(topology: str, slices: int) -> int:
  count = slices
  for size in topology.split(":")[1].split("x"):
    count *= int(size)
  return count


def command(name: str, topology: str, slices: int, extra=()) -> list[str]:
  """The row's `mocogan-jax compile` command line."""
  from mocogan_jax import aot, registry
  preset, overrides = CONFIGS[name]
  config = registry.resolve(preset, overrides)
  n = chips(topology, slices)
  batch = aot.per_chip_batch(config, VIDEOS_PER_CHIP, n)
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


def run_row(name: str, topology: str, slices: int, max_batch: bool, extra=()) -> dict:
  line = command(name, topology, slices, extra)
  with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "row.json")
    flags = ["--json", out] + (["--max_batch"] if max_batch else [])
    # Its progress (each --max_batch compile) goes to this script's stderr.
    subprocess.run([os.path.join(ROOT, ".venv", "bin", line[0]), *line[1:], *flags], cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    if not os.path.exists(out):
      sys.exit(f"{' '.join(line)} failed (its error is above)")
    with open(out) as f:
      report = json.load(f)
  return {"key": row_key(name, topology, slices, extra), "name": name,
          "command": " ".join(line + (["--max_batch"] if max_batch else [])), **report}


def markdown(rows) -> str:
  head = ("| config | topology | chips (data x fsdp) | fits | GiB per chip | TFLOP per chip per "
          "step | HBM GB per step | collectives: count (MiB) | roofline ms | videos/s, pod | "
          "largest batch per chip | compile s |\n|" + "---|" * 12)
  lines = [head]
  for r in rows:
    mesh, memory = r["mesh"], r["memory_bytes"]
    coll = ", ".join(f"{k} {v['count']} ({v['bytes'] / 2**20:.0f})"
                     for k, v in sorted(r["collectives"].items())) or "none"
    slices = f" x {r['num_slices']}" if r["num_slices"] > 1 else ""
    largest = r.get("max_video_batch_per_chip", "")
    lines.append(
        f"| {r['name']}{' ' + ' '.join(r['key'].split()[3:]) if len(r['key'].split()) > 3 else ''}"
        f" | {r['topology']}{slices} | {r['chips']} ({mesh['data']} x {mesh['fsdp']}) "
        f"| {'yes' if r['fits'] else 'no'} | {memory['total'] / 2**30:.2f} "
        f"| {r['flops'] / 1e12:.3f} | {r['bytes_accessed'] / 1e9:.2f} | {coll} "
        f"| {r['roofline_s'] * 1e3:.2f} ({r['bound']}) | {r['videos_per_s']:,.0f} "
        f"| {largest} | {r['compile_s']:.0f} |")
  return "\n".join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--only", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
  parser.add_argument("--topologies", nargs="*", default=None,
                      help="e.g. v5e:2x2 (default: every topology of the table)")
  parser.add_argument("--extra", nargs="*", default=[],
                      help="key=value changes for a before/after row (e.g. mesh_fsdp=4)")
  parser.add_argument("--no_max_batch", action="store_true")
  args = parser.parse_args()
  done = load()
  seen_chips = set()
  for topology, slices in TOPOLOGIES:
    first_of_chip = topology.split(":")[0] not in seen_chips
    seen_chips.add(topology.split(":")[0])
    if args.topologies and topology not in args.topologies:
      continue
    for name in args.only:
      key = row_key(name, topology, slices, args.extra)
      if key in done:
        continue
      print(f"compiling {key} ...", file=sys.stderr, flush=True)
      row = run_row(name, topology, slices, first_of_chip and not args.no_max_batch, args.extra)
      with open(TABLE, "a") as f:
        f.write(json.dumps(row) + "\n")
      done[key] = row
  print(markdown(done.values()))


if __name__ == "__main__":
  main()
