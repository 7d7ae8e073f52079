"""experiments/accelerator_check.sh, dry-run on the CPU with tiny configs, so
that the script a GPU run depends on cannot rot between GPU runs."""

import json
import os
import subprocess
import sys


def test_the_accelerator_check_runs_end_to_end_on_the_cpu(tmp_path):
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  out = tmp_path / "out"
  done = subprocess.run(["bash", "experiments/accelerator_check.sh", str(out), "--dry-run"],
                        cwd=root, capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, PYTHON=sys.executable))
  assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
  rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
  ran = {row["step"]: row for row in rows}
  for step in ("env", "tests", "bench_0", "predict", "input", "train", "evaluate",
               "sample"):
    assert ran[step]["ok"], (step, done.stdout[-3000:])
  dtypes = [row["result"]["dtype"] for row in rows if row["step"] == "bench_result"]
  assert dtypes == ["float32"]
  assert all(row["result"]["flops_per_step"] > 0 for row in rows if row["step"] == "bench_result")
  (predicted,) = [row["result"] for row in rows if row["step"] == "predict_result"]
  assert predicted["roofline_s"] > 0 and predicted["measured_over_roofline"] > 0
  (pipeline,) = [row["result"] for row in rows if row["step"] == "input_result"]
  assert pipeline["sources"][0]["delivered_frames_per_s"]
  (evaluation,) = [row["result"] for row in rows if row["step"] == "evaluate_result"]
  assert "acd" in evaluation["metrics"]
  assert (out / "samples.gif").stat().st_size > 0 and (out / "metrics.jsonl").exists()
