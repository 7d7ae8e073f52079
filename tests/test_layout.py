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


def test_every_model_a_config_can_name_is_registered():
  from mocogan_jax import config, registry
  assert set(registry.MODELS) == set(config._CHOICES["model"])


def test_model_modules_take_settings_not_the_config():
  """Only models/mocogan.py turns a Config into module settings."""
  for path in (PACKAGE / "models").glob("*.py"):
    if path.name != "mocogan.py":
      assert "config" not in _package_imports(path), path.name
