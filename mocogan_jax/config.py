"""The experiment configuration: one frozen dataclass, presets as Python files.

A preset is a module in `mocogan_jax/configs/` with `get_config() -> Config`;
its docstring holds the command that runs it and what to expect. A run is
`--config NAME|FILE` plus `key=value` overrides; the resolved config is saved
as `config.json` in the workdir and can be passed back as `--config FILE`.

The dataclass is frozen and hashable, so it travels inside the train state as
static (non-array) data and selects the compiled program.
"""

import dataclasses
import importlib
import importlib.util
import json
import math
import os
import pkgutil

from mocogan_jax.errors import ConfigError, problems_error


@dataclasses.dataclass(frozen=True)
class Config:
  # --- Data: a TFDS dataset read through its random-access data source:
  # a registered name, or "folder:PATH" for a folder of videos (data/video_folder.py).
  dataset: str = "shape_motion/64"
  data_dir: str = ""  # "" = TFDS's default ($TFDS_DATA_DIR or ~/tensorflow_datasets)
  label_key: str = "motion"  # the feature used as the video's category
  image_size: int = 64
  channels: int = 3
  video_length: int = 16  # T, frames per training clip
  every_nth: int = 2  # temporal stride of a clip; the official loader hard-codes 2
  bad_files: str = "skip"  # an unreadable file in a folder dataset: skip (warn, count) | fail
  data_workers: int = 2  # threads building upcoming batches (experiments/benchmark_input.py)

  # --- The model (registry.py): mocogan | vgan | tgan (models/vgan.py,
  # models/tgan.py: unconditional, fixed-length baselines from the MoCoGAN
  # paper's table) | conditional (models/conditional.py: the future from the past).
  model: str = "mocogan"

  # --- Latent code: [z_content | one-hot category | z_motion] per frame.
  # VGAN's one latent is dim_z_content; TGAN's z0 is dim_z_content, its
  # per-frame z1 dim_z_motion.
  dim_z_content: int = 50
  dim_z_motion: int = 10
  n_categories: int = 6

  # --- Networks.
  ngf: int = 64
  ndf: int = 64
  image_discriminator: str = "patch"  # patch | full
  video_discriminator: str = "categorical"  # categorical | plain | patch
  # batch (official): BatchNorm in both discriminators, real and fake batches
  # normalised apart, so a shift that every fake shares (one colour for all)
  # is divided out after the first layer; layer: LayerNorm over each example
  # (no batch coupling, activations kept at unit scale); none: no normalisation;
  # spectral: every conv kernel divided by its spectral norm (Miyato et al. 2018).
  discriminator_norm: str = "batch"
  # D_I's own normalisation, when it should differ from D_V's ("" = the same;
  # experiments/notes/why_the_videos_drift.md, "Which discriminator draws colour").
  image_discriminator_norm: str = ""
  # > 0: one SAGAN self-attention block in the generator, the image and the
  # video discriminator, on their features of this spatial size (image_size / 2,
  # / 4 or / 8, at least 4). Not in the official code; 0 = off.
  attention_resolution: int = 0
  # z_content scales and shifts every BatchNorm output of the generator (FiLM,
  # zero-initialised: the official generator at step 0). Not in the official
  # code (experiments/notes/why_the_videos_drift.md, "Content-modulated generator layers").
  content_modulation: bool = False
  # A fixed 3x3 binomial blur on the generator's last pre-tanh map: it removes
  # the Nyquist-frequency pattern that stride-2 transposed convolutions leave
  # (Odena et al. 2016), no parameters. Not in the official code
  # (experiments/RESULTS.md, "What the remaining ACD is made of").
  output_blur: bool = False
  # The generator's last stride-2 layer: "transpose" (the official 4x4
  # transposed convolution) or "resize" (nearest-neighbour x2, then a 3x3
  # convolution), which cannot draw the pattern a stride-2 transposed
  # convolution tiles onto the image grid (Odena et al. 2016). Not in the
  # official code; its parameters differ, so init_from cannot carry that layer.
  # Trained from the start it stilled a third of the demo's videos
  # (experiments/RESULTS.md, "What the remaining ACD is made of").
  output_upsample: str = "transpose"
  noise_sigma: float = 0.0  # instance noise before every conv but the last; 0 = off
  conv_impl: str = "auto"  # auto | native | matmul (see models/layers.py)
  # The generator's and discriminators' convolutions and activations: float32 |
  # bfloat16. Parameters, optimiser state, BatchNorm statistics, the motion RNN,
  # the encoders and the losses stay float32.
  dtype: str = "float32"

  # --- Objective.
  use_categories: bool = True  # D_V learns the real videos' categories
  use_infogan: bool = False  # G is rewarded when D_V recognises the sampled category
  # > 0: content/motion encoders train with the GAN, and G on their losses too,
  # at this weight (models/mocogan.train_step). 0 = the official GAN alone.
  encoder_weight: float = 0.0
  # The weight of the video discriminator's term in G's loss (the image term
  # has weight 1). 1 = official; 0 with use_infogan=false trains an image GAN,
  # the measurement of what D_I alone teaches.
  video_loss_weight: float = 1.0
  # VGAN: the weight of the L1 term on its mask (0.1 published).
  mask_l1_weight: float = 0.1
  # model=conditional (models/conditional.py): the generator continues the
  # first context_frames real frames of each clip; its loss weighs the
  # adversarial terms, the L1 distance to the true future (content) and the
  # L1 distance between the optical flow of the predicted and the true frames
  # (motion). A weight of 0 turns its term off (the ablations).
  context_frames: int = 4
  adversarial_weight: float = 1.0
  content_loss_weight: float = 10.0
  motion_loss_weight: float = 1.0

  # > 0: R1 penalty (Mescheder et al. 2018) on the real inputs of the
  # discriminators r1_on names, gamma / 2 * E|grad_x D(x)|^2. Not in the
  # official code; 0 = off.
  r1_gamma: float = 0.0
  r1_on: str = "both"
  # > 0: the generator's loss also has this weight times how far its frames'
  # total variation (mean |difference| of neighbouring pixels) exceeds the
  # real frames' of the same step (losses.excess_total_variation): a pattern
  # inside flat regions costs, edges as sharp as the data's do not. Not in
  # the official code; 0 = off.
  tv_weight: float = 0.0

  # --- Optimisation: Adam for each of the three networks, as the official trainer.
  image_batch: int = 10
  video_batch: int = 3
  learning_rate: float = 2e-4
  adam_b1: float = 0.5
  adam_b2: float = 0.999
  weight_decay: float = 1e-5  # L2 added to the gradient, as torch.optim.Adam does
  # > 0: keep a moving average of G's weights at this decay per step (with a
  # warm-up, training.update_ema) for samples, evaluation and export. Not in
  # the official code; 0 = off.
  ema_decay: float = 0.0

  # --- Devices: a (data, fsdp) mesh over every device of every process (sharding.py).
  mesh_data: int = -1  # -1 = every device the fsdp axis leaves
  mesh_fsdp: int = 1  # devices that share one copy of parameters and optimiser state

  # --- Loop.
  num_steps: int = 100_000
  seed: int = 0
  # A file written by export or import-torch (or a shipped model's name): a new
  # run starts from its networks instead of random weights (export.start_from);
  # model=mocogan only.
  init_from: str = ""
  # all: every array of the file must fit this config (a continuation);
  # shared: the arrays whose path and shape match are taken, the others
  # stay freshly initialised and are named (a model grown from a smaller
  # one: the 32x32 generator in a 64x64 one of half the width, whose first
  # layers have the same shapes); prepend: as shared, but the file's image
  # generator stages are this one's last (the 32x32 generator in a 64x64 one
  # of the same ngf: a new first stage, the file's RGB stage kept).
  init_from_layers: str = "all"
  log_every: int = 100
  sample_every: int = 1000
  checkpoint_every: int = 5000
  keep_checkpoints: int = 3  # the newest K; older ones are deleted
  keep_checkpoint_every: int = 0  # > 0: also keep every checkpoint at a multiple of this step
  nonfinite: str = "stop"  # a non-finite loss: stop (naming step and loss) | skip the step
  num_samples: int = 16  # videos in each sample grid
  # Seconds without a heartbeat after which another host's lock on the workdir
  # is taken over (workdir_lock.py); a dead holder on this host is taken over at once.
  lock_timeout: float = 600.0

  # --- Evaluation during training (evaluation/evaluate.py), to TensorBoard and
  # metrics.jsonl: the metrics of eval_num generated videos of eval_length
  # frames against as many real clips, every eval_every steps (0 = never).
  # mcs and is read WORKDIR/classifier (mocogan-jax train-classifier).
  eval_every: int = 0
  eval_metrics: str = "fvd,kvd"
  eval_num: int = 256
  eval_length: int = 16
  # A metric of eval_metrics, lower is better (fvd, kvd, acd, acd_generic):
  # every evaluation also saves a checkpoint, and the one with the best value
  # is kept beside the newest ones ('sample --step best'). "" = off.
  keep_best: str = ""

  @property
  def dim_z(self) -> int:
    return self.dim_z_content + self.n_categories + self.dim_z_motion

  @property
  def clip_span(self) -> int:
    """Frames of a source video one clip covers."""
    return (self.video_length - 1) * self.every_nth + 1

  def replace(self, **kw) -> "Config":
    return dataclasses.replace(self, **kw)

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)


def option(default, help: str, choices: tuple | None = None):
  """A field of a side trainer's settings dataclass (encoding.EncoderSettings,
  ...): its default, help and choices, written once for the library and for
  the command line's flags (cli.flags.add_settings_flags)."""
  return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


def check_choices(settings) -> None:
  """Raises ConfigError for the first field of a settings dataclass outside its
  `option(choices=...)`."""
  for field in dataclasses.fields(settings):
    choices, value = field.metadata.get("choices"), getattr(settings, field.name)
    if choices is not None and value not in choices:
      raise ConfigError(f"--{field.name} must be one of {', '.join(choices)}, got {value!r}")


SUPPORTED_IMAGE_SIZES = (16, 32, 64, 128, 256)
EVAL_METRICS = ("fvd", "kvd", "acd", "acd_generic", "mcs", "is")
LOWER_IS_BETTER = ("fvd", "kvd", "acd", "acd_generic")
DISCRIMINATOR_NORMS = ("batch", "layer", "none", "spectral")  # models/discriminators.py
_CHOICES = {
    "image_discriminator": ("patch", "full"),
    "video_discriminator": ("categorical", "plain", "patch"),
    "discriminator_norm": DISCRIMINATOR_NORMS,
    "image_discriminator_norm": ("",) + DISCRIMINATOR_NORMS,
    "conv_impl": ("auto", "native", "matmul"),
    "dtype": ("float32", "bfloat16"),
    "nonfinite": ("stop", "skip"),
    "bad_files": ("skip", "fail"),
    "output_upsample": ("transpose", "resize"),
    "r1_on": ("both", "image", "video"),
    "init_from_layers": ("all", "shared", "prepend"),
}


MIN_VIDEO_LENGTH = 4
_POSITIVE = ("channels", "every_nth", "data_workers", "dim_z_content", "dim_z_motion", "ngf", "ndf",
             "image_batch", "video_batch", "num_steps", "log_every", "sample_every",
             "checkpoint_every", "keep_checkpoints", "num_samples")


def problems(config: Config) -> list[str]:
  """Every setting of `config` that is out of range or conflicts with another,
  each as its fix; [] for a valid config. The model's own checks are added by
  registry.validate, which is what resolves a config."""
  found = [f"{field} must be one of {choices}, got {getattr(config, field)!r}"
           for field, choices in _CHOICES.items() if getattr(config, field) not in choices]
  if config.image_size not in SUPPORTED_IMAGE_SIZES:
    found.append(f"image_size must be one of {SUPPORTED_IMAGE_SIZES}, got {config.image_size}")
  if config.video_length < MIN_VIDEO_LENGTH:
    found.append(f"video_length={config.video_length} is too short for the video "
                 f"discriminator (needs at least {MIN_VIDEO_LENGTH})")
  found += [f"{field} must be >= 1, got {getattr(config, field)}"
            for field in _POSITIVE if getattr(config, field) < 1]
  if config.keep_checkpoint_every < 0 or (
      config.checkpoint_every >= 1 and config.keep_checkpoint_every % config.checkpoint_every):
    found.append(f"keep_checkpoint_every must be 0 or a multiple of checkpoint_every="
                 f"{config.checkpoint_every}, got {config.keep_checkpoint_every}")
  if config.mesh_data < 1 and config.mesh_data != -1:
    found.append(f"mesh_data must be -1 (all devices) or >= 1, got {config.mesh_data}")
  at_least = {"mesh_fsdp": 1, "n_categories": 0, "encoder_weight": 0, "video_loss_weight": 0,
              "r1_gamma": 0, "tv_weight": 0, "noise_sigma": 0, "eval_every": 0, "mask_l1_weight": 0}
  found += [f"{field} must be >= {low}, got {getattr(config, field)}"
            for field, low in at_least.items() if not getattr(config, field) >= low]
  if not config.lock_timeout > 0:
    found.append(f"lock_timeout must be > 0 seconds, got {config.lock_timeout}")
  if not 0 <= config.ema_decay < 1:
    found.append(f"ema_decay must be in [0, 1) (0 = off), got {config.ema_decay}")
  resolutions = [config.image_size // d for d in (2, 4, 8) if config.image_size // d >= 4]
  if config.attention_resolution and config.attention_resolution not in resolutions:
    found.append(f"attention_resolution must be 0 (off) or one of {resolutions} at "
                 f"image_size={config.image_size}, got {config.attention_resolution}")
  if config.eval_num < 2 or config.eval_length < 1:
    found.append("eval_num must be >= 2 and eval_length >= 1")
  names = [m.strip() for m in config.eval_metrics.split(",") if m.strip()]
  if not names or any(m not in EVAL_METRICS for m in names):
    found.append(f"eval_metrics must be a comma-separated list from {EVAL_METRICS}, got "
                 f"{config.eval_metrics!r}")
  if config.keep_best and (config.keep_best not in LOWER_IS_BETTER or config.keep_best not in names
                           or not config.eval_every):
    found.append(f"keep_best must be one of eval_metrics ({config.eval_metrics}) where lower "
                 f"is better ({', '.join(LOWER_IS_BETTER)}), with eval_every > 0; got "
                 f"{config.keep_best!r}")
  if not (config.learning_rate > 0 and math.isfinite(config.learning_rate)):
    found.append(f"learning_rate must be a positive number, got {config.learning_rate}")
  if config.init_from and config.model != "mocogan":
    found.append(f"init_from starts a MoCoGAN from an exported one; model={config.model} "
                 f"has no such file")
  return found


# Settings that no train step or sampler reads (the train loop and evaluation
# read them from the run's own config): where the data and checkpoints are,
# how long a run is, how often it logs, samples, saves and evaluates.
RUN_FIELDS = ("data_dir", "bad_files", "data_workers", "mesh_data", "mesh_fsdp", "num_steps",
              "seed", "init_from", "init_from_layers", "log_every", "sample_every", "checkpoint_every",
              "keep_checkpoints", "keep_checkpoint_every", "num_samples", "lock_timeout",
              "eval_every", "eval_metrics", "eval_num", "eval_length", "keep_best")


def program_config(config: Config) -> Config:
  """`config` with RUN_FIELDS at their defaults: the config a train state
  carries and compiled programs are keyed on, so that runs that differ only
  in those settings share their programs."""
  return config.replace(**{name: Config.__dataclass_fields__[name].default
                           for name in RUN_FIELDS})


def preset_names() -> list[str]:
  from mocogan_jax import configs
  return sorted(m.name for m in pkgutil.iter_modules(configs.__path__) if not m.name.startswith("_"))


def load(name_or_file: str) -> Config:
  """A preset name, a preset-style .py file, or a saved config.json."""
  if name_or_file.endswith(".json"):
    from mocogan_jax import files  # the saved config of a workdir on gs:// too
    try:
      values = json.loads(files.read_text(name_or_file))
    except (OSError, ValueError) as e:  # ValueError: not JSON, or not text
      raise ConfigError(f"cannot read config file {name_or_file}: {e}") from None
    if not isinstance(values, dict):
      raise ConfigError(f"config file {name_or_file} holds no JSON object of settings")
    return apply_overrides(Config(), values)
  if name_or_file.endswith(".py"):
    if not os.path.exists(name_or_file):
      raise ConfigError(f"config file not found: {name_or_file}")
    spec = importlib.util.spec_from_file_location("_user_config", name_or_file)
    module = importlib.util.module_from_spec(spec)
    try:
      spec.loader.exec_module(module)
      config = module.get_config()
    except Exception as e:  # the user's own Python: name the file and the error
      raise ConfigError(f"config file {name_or_file} failed: {type(e).__name__}: {e}") from None
    if not isinstance(config, Config):
      raise ConfigError(f"config file {name_or_file}: get_config() must return a Config, got "
                        f"{type(config).__name__}")
    return config
  if name_or_file not in preset_names():
    raise ConfigError(f"unknown config {name_or_file!r}; presets: {', '.join(preset_names())}")
  return importlib.import_module(f"mocogan_jax.configs.{name_or_file}").get_config()


def _parse_value(field: dataclasses.Field, value):
  """A "key=value" string, or a config.json value, as the field's type; a
  ConfigError names the field and what it takes."""
  kind = type(getattr(Config(), field.name))
  if not isinstance(value, str):
    if type(value) is kind or (kind is float and type(value) is int):
      return kind(value)
    raise ConfigError(f"{field.name} must be {kind.__name__}, got {value!r}")
  if kind is bool:
    if value.lower() in ("1", "true", "yes", "on"):
      return True
    if value.lower() in ("0", "false", "no", "off"):
      return False
    raise ConfigError(f"{field.name} must be true or false, got {value!r}")
  try:
    if kind is int:  # 10000 or 1e4, not 1.5
      number = float(value)
      if number.is_integer():
        return int(number)
      raise ValueError
    return kind(value)
  except (ValueError, OverflowError):
    raise ConfigError(f"{field.name} must be {kind.__name__}, got {value!r}") from None


def apply_overrides(config: Config, overrides) -> Config:
  """`overrides`: a dict or a list of "key=value" strings. A ConfigError names
  every bad one at once."""
  found, pairs = [], overrides
  if not isinstance(overrides, dict):
    pairs = {}
    for item in overrides:
      if "=" in item:
        key, value = item.split("=", 1)
        pairs[key.strip()] = value
      else:
        found.append(f"override {item!r} is not of the form key=value")
  fields = {f.name: f for f in dataclasses.fields(Config)}
  values = {}
  for key, value in pairs.items():
    if key not in fields:
      found.append(f"unknown config key {key!r}")
      continue
    try:
      values[key] = _parse_value(fields[key], value)
    except ConfigError as e:
      found.append(str(e))
  if found:
    raise problems_error(found)
  return config.replace(**values)
