"""The prediction table of experiments/RESULTS.md: every predictor on the same
held-out clips.

    python experiments/prediction.py --workdir RUN [--workdir RUN2 ...] [--params FILE ...]
        [--encoders encoder,encoder_latent_only] [--inversion_steps 0,100]
        [--animate_inversion_steps 0,1000] [--num 256] [--pairs 200]
        [--context 4 --length 16] [--samples 10] [--fvd]
    python experiments/prediction.py --params shape_motion --samples 1 \
        --inversion_steps 0,100 --animate_inversion_steps 0,100,1000   # the model card's table

For each run (a training workdir, a workdir of baselines alone that
train-baseline made, or an exported file with encoders) every predictor it
holds, on `num` held-out clips of
`length` frames at the run's every_nth, K = `context` of them given:
- copy-last-frame and all-black frames (the background of both datasets),
  once per dataset and protocol: the floors. On these black-background
  datasets a blurred or fading prediction nears the all-black frame's
  score, which beats copy-last whenever the object moves;
- the ConvRNN and SVG-LP baselines (WORKDIR/convrnn, WORKDIR/svg);
- the MoCoGAN predictor of each encoder folder named by --encoders that the
  run has (train-encoder), and a model=conditional run's own predictor.
Stochastic predictors (MoCoGAN, conditional, SVG) get three rows: one draw,
the best of `samples` draws per clip by mean SSIM (SVG's protocol), and the
noise at its mean. Columns: PSNR, SSIM and per-frame MSE (squared error
summed over a frame's pixels in [0, 1], as in the OpenSTL tables) averaged
over clips and predicted frames, with --fvd the FVD of the clips
[context | prediction] against the true clips (I3D, at least 9 frames; for the
deterministic predictors and the one-draw rows, since best-of-N chooses by the
true clip and the mean noise gives no sample of the model), then
PSNR and SSIM at the first, middle and last predicted frame.
For MoCoGAN runs with encoders also the encoders' held-out reconstruction and
latent recovery as train-encoder measured them, image-to-video (animate) from
the clips' first frames (under each image's own category and under categories
cycling, for each number of --animate_inversion_steps), and on shape_motion motion
transfer (read with the dataset's colour and motion labels), for the GAN's
generator alone and for each set of encoders (on up to `pairs` pairs). The
MoCoGAN rows repeat for each number of --inversion_steps (encoding.invert).
At the end every row of the prediction, animate and transfer tables again,
as one JSON line each.
Everything is seeded: a second run prints the same tables on the same machine.
"""

import argparse
import json
import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mocogan_jax.predictors import encoding, prediction
from mocogan_jax.workdir import load_config, load_encoders, load_generator  # noqa: E402
from mocogan_jax.data import pipeline  # noqa: E402
from mocogan_jax.evaluation import i3d, metrics, shape_quality  # noqa: E402
from mocogan_jax.pixels import to_float  # noqa: E402


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--workdir", action="append", default=[])
  parser.add_argument("--params", action="append", default=[],
                      help="an exported file with encoders, or a shipped model's name")
  parser.add_argument("--encoders", default="encoder",
                      help="comma-separated folders of each run written by train-encoder")
  parser.add_argument("--inversion_steps", default=str(encoding.INVERSION_STEPS),
                      help="comma-separated: the MoCoGAN rows (predict, animate, transfer) "
                           "for each number of encoding.invert steps")
  parser.add_argument("--animate_inversion_steps", default=str(encoding.ANIMATE_INVERSION_STEPS),
                      help="comma-separated: the animate rows for each number of "
                           "encoding.invert steps reading the image")
  parser.add_argument("--num", type=int, default=256)
  parser.add_argument("--pairs", type=int, default=200, help="transfer pairs (at most)")
  parser.add_argument("--context", type=int, default=4)
  parser.add_argument("--length", type=int, default=16)
  parser.add_argument("--samples", type=int, default=10,
                      help="draws per clip for the best-of rows of stochastic predictors")
  parser.add_argument("--fvd", action="store_true", help="also FVD (I3D; slow on a CPU)")
  args = parser.parse_args()
  k, length = args.context, args.length
  if not args.workdir and not args.params:
    parser.error("give --workdir RUN or --params FILE (one or more)")
  if args.fvd and length < i3d.MIN_FRAMES:
    parser.error(f"--fvd needs --length >= {i3d.MIN_FRAMES} (I3D)")
  if args.samples < 1:
    parser.error(f"--samples must be >= 1, got {args.samples}")
  def step_counts(flag: str) -> list[int]:
    text = getattr(args, flag)
    try:
      counts = [int(x) for x in text.split(",")]
      assert min(counts) >= 0
    except (ValueError, AssertionError):
      parser.error(f"--{flag} must be integers >= 0, got {text!r}")
    return counts
  inversion_steps, animate_steps = step_counts("inversion_steps"), step_counts(
      "animate_inversion_steps")
  middle = (length - k) // 2
  print(f"K = {k} context frames, {length - k} predicted, {args.num} held-out clips per "
        f"dataset; PSNR (dB), SSIM and per-frame MSE averaged over clips and predicted frames"
        f"{', FVD of the whole clips' if args.fvd else ''}, then PSNR and SSIM at predicted "
        f"frames 1 / {middle} / {length - k}; best of N: each clip's best of {args.samples} "
        f"draws by SSIM\n")
  fvd_column = ("FVD | ", "---|") if args.fvd else ("", "")
  print(f"| run | predictor | PSNR | SSIM | MSE | {fvd_column[0]}PSNR t=1 / {middle} / "
        f"{length - k} | SSIM t=1 / {middle} / {length - k} |")
  print(f"|---|---|---|---|---|{fvd_column[1]}---|---|")
  encoders, transfers, animations, floors, lines = [], [], [], set(), []
  features = video_features(i3d.load_variables()) if args.fvd else None
  for workdir, params in [(w, None) for w in args.workdir] + [(None, p) for p in args.params]:
    if params:
      config, settings, encoder_variables, generator = load_encoders(None, params=params)
      has_gan, run = True, f"{params} ({describe(config)})"
      # (label, name, the encoders' (settings, variables, decoder, meta) or None)
      predictors = [(f"mocogan, {params}", "mocogan",
                     (settings, encoder_variables, generator, None))]
    else:
      config = load_config(workdir)
      has_gan = os.path.isdir(os.path.join(workdir, "checkpoints"))
      run = describe(config) if has_gan else config.dataset
      predictors = []
      if has_gan and config.model == "conditional":
        predictors.append(("conditional", "conditional", None))
      if has_gan and config.model == "mocogan":
        _, generator = load_generator(workdir)
      for name in args.encoders.split(","):
        if has_gan and os.path.isdir(os.path.join(workdir, name)):
          predictors.append((f"mocogan, {name}/", "mocogan",
                             encoding.load(os.path.join(workdir, name), config, generator)))
      predictors += [(name, name, None) for name in ("convrnn", "svg")
                     if os.path.isdir(os.path.join(workdir, name))]
    _, held_out, _ = pipeline.train_and_held_out(config)
    clips, _ = pipeline.sample_clips(held_out, args.num, length, config.every_nth,
                                     [config.seed, pipeline.ClipStream.PREDICTION_TABLE])
    shapes = config.dataset.startswith("shape_motion")
    if (config.dataset, config.every_nth) not in floors:
      floors.add((config.dataset, config.every_nth))
      predictors += [("copy-last", "copy-last", None), ("all-black", "all-black", None)]
    if has_gan and config.model == "mocogan" and shapes:
      records = [held_out[i] for i in range(len(held_out))]  # read once for every encoder
      transfers.append((run, "GAN generator, codes swapped", shape_quality.generator_swap(
          config, generator, jax.random.key(config.seed + 2), 128, length)))
    real_features = features(clips) if args.fvd else None
    for label, name, loaded in predictors:
      stochastic = name in ("mocogan", "conditional", "svg")
      for steps in (inversion_steps if name == "mocogan" else [0]):
        inverted = f", {steps} inversion steps" if name == "mocogan" and steps else ""
        draws = [("sample", 1)] + ([("sample", args.samples), ("mean", 1)] * stochastic)
        for noise, samples in dict.fromkeys(draws):  # best of 1 is the one draw
          if name == "mocogan":
            settings, encoder_variables, decoder_variables, meta = loaded
            predictor = prediction.mocogan_predictor(
                config, settings.content_from, encoder_variables, decoder_variables, noise, steps)
          elif name == "all-black":
            predictor = all_black
          elif name == "copy-last":
            predictor = lambda context, length, key: prediction.copy_last(context, length)
          else:
            _, predictor = prediction.load_predictor(name, workdir, noise)
          scores = prediction.score(predictor, clips, k, jax.random.key(0), samples=samples)
          p, s, m = scores["psnr"], scores["ssim"], scores["mse"]
          how = ("" if not stochastic else " (mean noise)" if noise == "mean" else
                 f" (best of {samples})" if samples > 1 else " (one draw)")
          fvd = ""
          if args.fvd:  # of samples only: best-of-N picks by the truth, a mean is no sample
            fvd = ("- | " if stochastic and (noise == "mean" or samples > 1) else
                   f"{metrics.frechet_distance(features(scores['videos']), real_features):.1f} | ")
          print(f"| {run} | {label}{inverted}{how} | {p.mean():.2f} | {s.mean():.3f} | "
                f"{m.mean():.1f} | {fvd}{p[0]:.2f} / {p[middle - 1]:.2f} / {p[-1]:.2f} | "
                f"{s[0]:.3f} / {s[middle - 1]:.3f} / {s[-1]:.3f} |", flush=True)
          lines.append({"table": "prediction", "run": run, "predictor": label + inverted + how,
                        "psnr": float(p.mean()), "ssim": float(s.mean()), "mse": float(m.mean())})
        if name == "mocogan":
          if meta is not None and not steps:
            encoders.append((run, label, meta))
          if shapes:
            moved = encoding.score_transfer(decoder_variables, encoder_variables, config,
                                            settings.content_from, records, args.pairs, length,
                                            steps)
            transfers.append((run, f"transfer, {label}{inverted}", moved))
            lines.append({"table": "transfer", "run": run, "how": f"{label}{inverted}"} | moved)
      if name == "mocogan":
        settings, encoder_variables, decoder_variables, _ = loaded
        for steps in animate_steps:
          animated = encoding.score_animate(decoder_variables, encoder_variables, config,
                                            settings.content_from, clips[:, 0], length,
                                            jax.random.key(0), steps)
          inverted = f", {steps} inversion steps" if steps else ""
          for categories in ("own", "cycled"):
            row = {"videos": animated["videos"], "categories": categories} | animated[categories]
            animations.append((run, label + inverted, row))
            lines.append({"table": "animate", "run": run, "encoders": label + inverted} | row)
  if encoders:
    print_encoders(encoders)
  if animations:
    print_animations(animations)
  if transfers:
    print_transfers(transfers)
  print("\nThe same rows, one JSON line each:\n")
  for line in lines:
    print(json.dumps(line))


def all_black(context, length: int, key):
  """uint8 context (N, K, ...) -> float (N, length, ...): the context, then -1."""
  n, k = context.shape[:2]
  blank = np.full((n, length - k) + context.shape[2:], -1.0, np.float32)
  return np.concatenate([np.asarray(to_float(context)), blank], axis=1)


def describe(config) -> str:
  """A GAN run's row label: its dataset and what sets it apart."""
  run = (f"{config.dataset}, {config.n_categories} categories" if config.use_categories
         else f"{config.dataset}, unconditional")
  if config.encoder_weight:
    run += f", encoders in the GAN (weight {config.encoder_weight:g})"
  if config.model == "conditional":
    off = [w for w in ("adversarial_weight", "content_loss_weight", "motion_loss_weight")
           if not getattr(config, w)]
    run += ", conditional" + (f" ({', '.join(off)} 0)" if off else "")
  return run


def video_features(variables, batch: int = 16):
  """The I3D feature function: uint8 videos (N, T, S, S, C) -> (N, 400)."""
  fn = jax.jit(i3d.features)
  return lambda videos: np.concatenate([np.asarray(fn(variables, videos[i:i + batch]))
                                        for i in range(0, len(videos), batch)])


def print_encoders(encoders):
  print("\nEncoders (train-encoder's own measurement: held-out real clips encoded and "
        "decoded, their category against the labels; generated videos' codes recovered)\n")
  print("| run | encoders | reconstruction PSNR | SSIM | real category accuracy | "
        "content MSE (average of frames) | content MSE (first frame) | motion MSE | "
        "category accuracy |")
  print("|---|---|---|---|---|---|---|---|---|")
  for dataset, name, meta in encoders:
    m = meta["measured"]
    optional = lambda key: "–" if m.get(key) is None else f"{m[key]:.3f}"
    print(f"| {dataset} | {name} | {m['reconstruction_psnr']:.2f} | "
          f"{m['reconstruction_ssim']:.3f} | {optional('real_category_accuracy')} | "
          f"{m['content_mse_average']:.4f} | {m['content_mse_first']:.4f} | "
          f"{m['motion_mse']:.4f} | {optional('category_accuracy')} |")


def print_animations(animations):
  print("\nImage-to-video (animate): the first frame of each held-out clip read by the "
        "encoders, motion run on with the prior's noise, under the category the image was "
        "read under (own, animate's default) or categories cycling over 0..K-1; PSNR / SSIM "
        "of generated frame 1 against the image; on shape_motion the share moving in their "
        "category's most common direction and the share whose mean shape colour is within 30 "
        "(of 255) of the image's\n")
  print("| run | encoders | categories | videos | PSNR frame 1 | SSIM frame 1 | "
        "direction agreement | colour kept |")
  print("|---|---|---|---|---|---|---|---|")
  for run, folder, a in animations:
    shapes = lambda key: f"{a[key]:.2f}" if key in a else "-"
    print(f"| {run} | {folder} | {a['categories']} | {a['videos']} | {a['psnr_first']:.2f} | "
          f"{a['ssim_first']:.3f} | {shapes('direction_agreement')} | {shapes('colour_kept')} |")


def print_transfers(transfers):
  print("\nMotion transfer on shape_motion: the content of video A moving as video B, for "
        "pairs whose colours and directions differ. GAN generator: generated videos A and B, "
        "A's z_content decoded with B's category and motion states (no encoders). "
        "Transfer: held-out real A and B, `mocogan-jax transfer`\n")
  print("| run | videos | pairs | colour nearer A's than B's | direction of B | "
        "direction of A | mean colour error to A (0..255) |")
  print("|---|---|---|---|---|---|---|")
  for dataset, name, t in transfers:
    print(f"| {dataset} | {name} | {t['pairs']} | {t['colour_of_a']:.2f} | "
          f"{t['direction_of_b']:.2f} | {t['direction_of_a']:.2f} | {t['colour_error']:.1f} |")


if __name__ == "__main__":
  main()
