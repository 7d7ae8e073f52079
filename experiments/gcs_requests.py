"""The storage requests of one `train` on gs://, counted by a local GCS server.

    .venv/bin/python experiments/gcs_requests.py [--code_root DIR] [STEPS]

Starts fake-gcs-server (the test extra) with its request log, runs
`mocogan-jax train --config demo --workdir gs://bucket/demo num_steps=STEPS`
(default 1000) against it, and prints the requests by method. `--code_root`
runs the mocogan_jax of another checkout (a `git worktree` of an older
commit), to count before and after a change. Numbers: docs/usage.md.
"""

import argparse
import collections
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
import gcs_server  # noqa: E402


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("steps", nargs="?", type=int, default=1000)
  parser.add_argument("--code_root", default=str(pathlib.Path(__file__).resolve().parents[1]))
  args = parser.parse_args()
  log = pathlib.Path(tempfile.mkdtemp()) / "requests.log"
  with gcs_server.running(log, debug=True) as url:
    gcs_server.create_bucket(url, "bucket")
    start = len(log.read_text().splitlines())
    env = dict(os.environ, **gcs_server.client_env(url), PYTHONPATH=args.code_root)
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "mocogan_jax.cli", "train", "--config", "demo",
                          "--workdir", "gs://bucket/demo", f"num_steps={args.steps}"],
                         env=env, cwd=args.code_root, capture_output=True, text=True)
    seconds = time.monotonic() - started
  if run.returncode:
    sys.exit(f"train exited {run.returncode}: {run.stderr[-2000:]}")
  lines = log.read_text().splitlines()[start:]
  methods = collections.Counter(
      found.group(1) for line in lines
      for found in [re.search(r'\\"(GET|HEAD|POST|PUT|PATCH|DELETE) ', line)] if found)
  print(f"{args.steps} steps in {seconds:.0f} s: {sum(methods.values())} requests "
        f"({', '.join(f'{m} {n}' for m, n in methods.most_common())})")


if __name__ == "__main__":
  main()
