"""The commands that measure: train-classifier (behind MCS and IS) and evaluate."""

import os

from mocogan_jax import files
from mocogan_jax.cli.flags import (add_settings_flags, check_workdir_or_params,
                                   config_for_workdir, settings_from_args)
from mocogan_jax.errors import ConfigError


def add_commands(command) -> None:
  """Adds this module's commands through `command(name, function, help, *shared flags)`."""
  from mocogan_jax.evaluation import classifier
  p = command("train-classifier", cmd_train_classifier, "train the video classifier behind "
              "MCS and IS on the run's labelled dataset", "run", "optional_config", "overrides")
  p.add_argument("--out", help="where the classifier goes (default WORKDIR/classifier)")
  add_settings_flags(p, classifier.ClassifierSettings)

  p = command("evaluate", cmd_evaluate, "FVD, KVD, ACD, MCS, IS of a run's (or an exported "
                                        "file's) generator; writes a JSON report",
              "run_or_file", "checkpoint_dir", "step")
  p.add_argument("--metrics", default="fvd,kvd,acd",
                 help="comma-separated, from fvd,kvd,acd,acd_generic,mcs,is,is_c3d (default "
                      "fvd,kvd,acd)")
  p.add_argument("--num", type=int, default=2048, help="generated videos and real clips "
                                                       "(default 2048)")
  p.add_argument("--length", type=int, default=16, help="frames per video (default 16)")
  p.add_argument("--every_nth", type=int, help="stride of the real clips (default: the run's)")
  p.add_argument("--real", help="the real dataset to compare with (default: the run's)")
  p.add_argument("--classifier", help="for mcs and is (default WORKDIR/classifier)")
  p.add_argument("--c3d", help="for is_c3d: a folder with TGANv2's conv3d_deepnetA_ucf.npz and "
                               "mean2.npz")
  p.add_argument("--untrained", action="store_true",
                 help="evaluate the generator as initialised, not the newest checkpoint")
  p.add_argument("--floor", action="store_true",
                 help="evaluate held-out real videos instead of a generator: the best value "
                      "each metric can reach at this N")
  p.add_argument("--batch", type=int, default=16, help="videos per device call")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--out", help="report path (default WORKDIR/eval/<what>_n<N>.json; with "
                               "--params eval/<file name>_n<N>.json)")


def cmd_train_classifier(args):
  from mocogan_jax.evaluation import classifier
  config = config_for_workdir(args)
  out = args.out or os.path.join(args.workdir, "classifier")
  files.require_writable(out, "--out")
  meta = classifier.train_classifier(config, out,
                                     settings_from_args(classifier.ClassifierSettings, args))
  print(f"classifier of {config.dataset} {config.label_key} ({meta['num_classes']} classes, "
        f"{meta['length']} frames at every_nth={config.every_nth}): held-out accuracy "
        f"{meta['held_out_accuracy']:.4f} on {meta['held_out_clips']} clips of "
        f"{meta['held_out']}; wrote {files.absolute(out)}")


def cmd_evaluate(args):
  from mocogan_jax import workdir
  from mocogan_jax.evaluation import evaluate
  metrics = evaluate.parse_metrics(args.metrics)
  check_workdir_or_params(args)
  if args.params and set(metrics) & set(evaluate.CLASSIFIER_METRICS) and not args.classifier:
    raise ConfigError("mcs and is with --params need --classifier (a folder train-classifier "
                      "wrote)")
  config, variables, what, name, out_dir = workdir.generator_to_evaluate(
      args.workdir, args.checkpoint_dir, args.step, args.params, args.untrained, args.floor)
  protocol = evaluate.Protocol(metrics, args.num, args.length, args.every_nth or config.every_nth,
                               args.batch, args.seed)
  evaluate.check_protocol(protocol)
  classifier_dir = args.classifier or (args.workdir and os.path.join(args.workdir, "classifier"))
  report = evaluate.evaluate(config, variables, protocol, what=what, real_dataset=args.real,
                             classifier_dir=classifier_dir, c3d_dir=args.c3d,
                             cache_dir=os.path.join(out_dir, "cache"))
  report["workdir" if args.workdir else "params"] = files.absolute(args.workdir or args.params)
  out = args.out or os.path.join(out_dir, f"{name}_n{protocol.num}.json")
  evaluate.write_report(report, out)
  print(evaluate.format_table(report))
  print(f"report: {files.absolute(out)}")
