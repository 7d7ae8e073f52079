"""Training curves of a run: metrics.jsonl -> PNG plots.

    .venv/bin/python experiments/plot_metrics.py WORKDIR [--out FILE.png]

One panel per group of metrics the run logged (losses, discriminator
probabilities, periodic evaluation such as eval/acd), steps on the x axis.
Needs matplotlib (`pip install -e '.[plot]'`).
"""

import argparse
import collections
import json
import os
import sys


def read_series(path: str) -> dict:
  """metrics.jsonl -> {metric: ([steps], [values])}, in file order; a step
  written again after a resume replaces the earlier value."""
  series = collections.defaultdict(dict)
  with open(path) as f:
    for line in f:
      record = json.loads(line)
      step = record.pop("step")
      for name, value in record.items():
        series[name][step] = value
  return {name: (sorted(v), [v[s] for s in sorted(v)]) for name, v in series.items()}


def panels(series: dict) -> dict:
  """Groups metric names by their prefix ("loss", "d_prob", "eval", ...)."""
  groups = collections.defaultdict(list)
  for name in sorted(series):
    if name == "steps_per_second":
      continue
    groups[name.split("/")[0]].append(name)
  return dict(groups)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("workdir")
  parser.add_argument("--out", help="default: WORKDIR/metrics.png")
  args = parser.parse_args()
  path = os.path.join(args.workdir, "metrics.jsonl")
  if not os.path.exists(path):
    sys.exit(f"error: {args.workdir} has no metrics.jsonl (not a training workdir?)")
  try:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
  except ImportError:
    sys.exit("error: plotting needs matplotlib: .venv/bin/pip install -e '.[plot]'")
  series = read_series(path)
  groups = panels(series)
  fig, axes = plt.subplots(len(groups), 1, figsize=(8, 2.6 * len(groups)), sharex=True,
                           squeeze=False)
  for ax, (group, names) in zip(axes[:, 0], groups.items()):
    for name in names:
      steps, values = series[name]
      ax.plot(steps, values, label=name.split("/", 1)[-1], marker="o" if len(steps) < 30 else None)
    ax.set_ylabel(group)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    if group == "loss":
      ax.set_yscale("log")
  axes[-1, 0].set_xlabel("step")
  fig.tight_layout()
  out = args.out or os.path.join(args.workdir, "metrics.png")
  fig.savefig(out, dpi=80)
  print(f"wrote {os.path.abspath(out)}")


if __name__ == "__main__":
  main()
