"""Which modules may import which: the mesh rules stay a leaf, and the data
pipeline never depends on the models or the train step."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).parent.parent / "mocogan_jax"


def _package_imports(path: pathlib.Path) -> set[str]:
  """Every mocogan_jax module `path` imports, as 'sharding', 'data.catalog', ..."""
  found = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mocogan_jax"):
      base = node.module.removeprefix("mocogan_jax").lstrip(".")
      found |= {f"{base}.{a.name}".lstrip(".") if not base else base for a in node.names}
    elif isinstance(node, ast.Import):
      found |= {a.name.removeprefix("mocogan_jax.") for a in node.names
                if a.name.startswith("mocogan_jax.")}
  return found


def test_sharding_imports_only_the_config():
  assert _package_imports(PACKAGE / "sharding.py") == {"config"}


def test_the_data_pipeline_imports_no_model_and_no_train_step():
  allowed = {"config", "sharding"}
  for path in (PACKAGE / "data").glob("*.py"):
    imports = {m for m in _package_imports(path) if not m.startswith("data")}
    assert imports <= allowed, (path.name, imports - allowed)


def test_every_preset_names_a_registered_model_and_others_are_refused():
  import pytest
  from mocogan_jax import config, registry
  assert {config.load(name).model for name in config.preset_names()} == set(registry.MODELS)
  with pytest.raises(config.ConfigError, match="model must be one of .'mocogan', 'vgan'"):
    config.resolve("tiny", ["model=dvdgan"])


def test_network_modules_take_settings_not_the_config():
  """Only a model's own module (models/mocogan.py, vgan.py, tgan.py: the
  entries of registry.MODELS) turns a Config into module settings; the
  building blocks (layers, generator, discriminators, encoders, ...) do not."""
  from mocogan_jax import registry
  for path in (PACKAGE / "models").glob("*.py"):
    if path.stem not in registry.MODELS:
      assert "config" not in _package_imports(path), path.name
