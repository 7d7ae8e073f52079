"""The prediction table of experiments/RESULTS.md ("Prediction and encoders").

    python experiments/prediction.py --workdir RUN [--workdir RUN2 ...]
        [--encoders encoder,encoder_swap] [--num 256]

For each run (a training workdir with train-encoder outputs in the folders
named by --encoders, those it has, and `baseline/` from train-baseline if
the ConvRNN is to be scored there; or a model=conditional run, scored as its
own predictor):
per-frame PSNR and SSIM of the 12 frames predicted from K = 4 context frames
of `num` held-out clips (16 frames at the run's every_nth), for the MoCoGAN
predictor of each encoder folder (motion noise sampled, and at its mean), the
ConvRNN baseline and copy-last-frame; the encoders' held-out reconstruction and
latent recovery as train-encoder measured them; on shape_motion, motion
transfer (read with the dataset's colour and motion labels), for the GAN's
generator alone and for each set of encoders.
Everything is seeded: a second run prints the same tables on the same machine.
"""

import argparse
import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mocogan_jax import encoding, prediction, video_io  # noqa: E402
from mocogan_jax.workdir import load_generator  # noqa: E402
from mocogan_jax.data import pipeline  # noqa: E402
from mocogan_jax.evaluation import metrics  # noqa: E402
from mocogan_jax.models import mocogan  # noqa: E402

CONTEXT, LENGTH = 4, 16


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--workdir", action="append", required=True)
  parser.add_argument("--encoders", default="encoder",
                      help="comma-separated folders of each run written by train-encoder")
  parser.add_argument("--num", type=int, default=256)
  args = parser.parse_args()
  print(f"K = {CONTEXT} context frames, {LENGTH - CONTEXT} predicted, {args.num} held-out "
        f"clips per dataset; PSNR (dB) / SSIM averaged over clips and predicted frames, then "
        f"at the first, 6th and last predicted frame\n")
  print("| run | predictor | PSNR | SSIM | PSNR t=1 / 6 / 12 | SSIM t=1 / 6 / 12 |")
  print("|---|---|---|---|---|---|")
  encoders, transfers = [], []
  for workdir in args.workdir:
    config, generator = load_generator(workdir)
    _, held_out, _ = pipeline.train_and_held_out(config)
    clips, _ = pipeline.sample_clips(held_out, args.num, LENGTH, config.every_nth,
                                     [config.seed, pipeline.ClipStream.PREDICTION_TABLE])
    shapes = config.dataset.startswith("shape_motion")
    run = (f"{config.dataset}, {config.n_categories} categories" if config.use_categories
           else f"{config.dataset}, unconditional")
    if config.encoder_weight:
      run += f", encoders in the GAN (weight {config.encoder_weight:g})"
    if config.model == "conditional":
      off = [w for w in ("adversarial_weight", "content_loss_weight", "motion_loss_weight")
             if not getattr(config, w)]
      run += ", conditional" + (f" ({', '.join(off)} 0)" if off else "")
    if shapes and config.model == "mocogan":
      records = [held_out[i] for i in range(len(held_out))]  # read once for every encoder
      transfers.append((run, "GAN generator, codes swapped",
                        check_generator_swap(config, generator)))
    predictors = []
    if config.model == "conditional":
      for noise in ("sample", "mean"):
        predictors.append((f"conditional ({noise} motion noise)", prediction.load_predictor(
            "conditional", workdir, config, generator, noise)))
    for name in args.encoders.split(","):
      if not os.path.isdir(os.path.join(workdir, name)):
        continue
      settings, encoder_variables, decoder_variables, meta = encoding.load(
          os.path.join(workdir, name), config, generator)
      encoders.append((run, name, meta))
      for noise in ("sample", "mean"):
        predictor = prediction.mocogan_predictor(
            config, settings.content_from, encoder_variables, decoder_variables, noise)
        predictors.append((f"mocogan, {name}/ ({noise} motion noise)", predictor))
      if shapes:
        transfers.append((run, f"transfer, {name}/", encoding.score_transfer(
            decoder_variables, encoder_variables, config, settings.content_from, records,
            pairs=128, length=LENGTH)))
    for name in ("convrnn", "copy-last"):
      if name == "convrnn" and not os.path.isdir(os.path.join(workdir, "baseline")):
        continue  # the same baseline as another run's on this dataset
      predictors.append((name, prediction.load_predictor(name, workdir, config, generator)))
    for label, predictor in predictors:
      scores = prediction.score(predictor, clips, CONTEXT, jax.random.key(0))
      p, s = scores["psnr"], scores["ssim"]
      print(f"| {run} | {label} | {p.mean():.2f} | {s.mean():.3f} | "
            f"{p[0]:.2f} / {p[5]:.2f} / {p[-1]:.2f} | {s[0]:.3f} / {s[5]:.3f} / {s[-1]:.3f} |",
            flush=True)

  print("\nEncoders (train-encoder's own measurement: held-out real clips encoded and "
        "decoded, their category against the labels; generated videos' codes recovered)\n")
  print("| run | encoders | reconstruction PSNR | SSIM | real category accuracy | "
        "content MSE (average of frames) | content MSE (first frame) | motion MSE | "
        "category accuracy |")
  print("|---|---|---|---|---|---|---|---|---|")
  for dataset, name, meta in encoders:
    m = meta["measured"]
    optional = lambda key: "–" if m.get(key) is None else f"{m[key]:.3f}"
    print(f"| {dataset} | {name}/ | {m['reconstruction_psnr']:.2f} | "
          f"{m['reconstruction_ssim']:.3f} | {optional('real_category_accuracy')} | "
          f"{m['content_mse_average']:.4f} | {m['content_mse_first']:.4f} | "
          f"{m['motion_mse']:.4f} | {optional('category_accuracy')} |")

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


def check_generator_swap(config, generator, pairs: int = 128) -> dict:
  """Generated video i's z_content with video i+1's category and motion states:
  does the generator keep the colour with the content and the direction with
  the motion? Colours and directions are read from the unswapped videos; pairs
  whose directions agree, or whose colours are within 64 on every channel
  (or unreadable), are left out, as for real pairs."""
  g = mocogan.generator(config)
  latents = mocogan.sample_latents(jax.random.key(config.seed + 2), config, pairs, LENGTH)
  motion = g.apply(generator, latents["h0"], latents["eps"], method="continue_motion")
  category = jax.nn.one_hot(latents["category"], config.n_categories)
  decode = jax.jit(lambda *codes: g.apply(generator, *codes, train=False, method="decode"))
  own = video_io.to_uint8(decode(latents["content"], category, motion))
  moved = video_io.to_uint8(decode(latents["content"], np.roll(category, -1, 0),
                                   np.roll(motion, -1, 0)))
  colours = np.nanmean(metrics.shape_colours(own), axis=1)
  directions = metrics.shape_directions(own)
  b_colours, b_directions = np.roll(colours, -1, 0), np.roll(directions, -1)
  differ = metrics.distinct_pairs(colours, b_colours, directions, b_directions)
  return metrics.transfer_scores(moved[differ], colours[differ], b_colours[differ],
                                 directions[differ], b_directions[differ])


if __name__ == "__main__":
  main()
