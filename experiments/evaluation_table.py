"""Markdown table of `mocogan-jax evaluate` reports, one row per report.

    python experiments/evaluation_table.py RUN/eval/floor_n256.json RUN/eval/step2500_n256.json
"""

import json
import sys

COLUMNS = ("fvd", "kvd", "acd", "acd_generic", "mcs", "is")


def row(report: dict) -> str:
  values = report["metrics"]
  cells = []
  for name in COLUMNS:
    value = values.get(name)
    text = "–" if value is None else f"{value:.3g}" if name != "fvd" else f"{value:.1f}"
    if name == "is" and value is not None:
      text += f" ± {report['details']['is_std']:.2f}"
    cells.append(text)
  p = report["protocol"]
  return (f"| {report['evaluated']} | {p['num']} | " + " | ".join(cells) +
          f" | {report['seconds']:.0f} |")


def main(paths):
  reports = [json.load(open(p)) for p in paths]
  first = reports[0]
  p = first["protocol"]
  print(f"{first['real']['dataset']} (train split as the real set), {p['length']} frames, "
        f"real clips at every_nth={p['every_nth']}, seed {p['seed']}; MCS classifier held-out "
        f"accuracy {first['details'].get('classifier_held_out_accuracy', float('nan')):.4f}\n")
  print("| videos | N | FVD | KVD | ACD (shape colour) | ACD (histogram) | MCS | IS | seconds |")
  print("|---|---|---|---|---|---|---|---|---|")
  for report in reports:
    print(row(report))


if __name__ == "__main__":
  main(sys.argv[1:])
