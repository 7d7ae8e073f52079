"""Which modules may import which (no circles; errors, config and the mesh
rules at the bottom; the data pipeline never depending on the models), and
the house rules a newcomer relies on."""

import ast
import pathlib
import re
import subprocess

PACKAGE = pathlib.Path(__file__).parent.parent / "mocogan_jax"


def _is_module(name: str) -> bool:
  path = PACKAGE.joinpath(*name.split("."))
  return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _package_imports(path: pathlib.Path) -> set[str]:
  """Every mocogan_jax module `path` imports, as 'sharding', 'data.catalog', ..."""
  found = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mocogan_jax"):
      base = node.module.removeprefix("mocogan_jax").lstrip(".")
      for alias in node.names:  # a module of the package, or a name in `base`
        module = f"{base}.{alias.name}".lstrip(".")
        found.add(module if _is_module(module) else base)
    elif isinstance(node, ast.Import):
      found |= {a.name.removeprefix("mocogan_jax.") for a in node.names
                if a.name.startswith("mocogan_jax.")}
  return found


def _import_graph() -> dict[str, set[str]]:
  """{module: the package modules it imports, at the top or inside a function}."""
  modules = {".".join(p.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__"): p
             for p in PACKAGE.rglob("*.py")}
  graph = {}
  for name, path in modules.items():
    graph[name] = set()
    for imported in _package_imports(path):
      while imported and imported not in modules:  # a name inside a module
        imported = imported.rpartition(".")[0]
      if imported and imported != name and not name.startswith(f"{imported}."):
        graph[name].add(imported)
  return graph


def test_no_module_imports_a_module_that_imports_it_back():
  """The graph is one-directional: a topological order exists, so every
  module sits above everything it imports."""
  graph, placed = _import_graph(), []
  while len(placed) < len(graph):
    ready = sorted(m for m, deps in graph.items() if m not in placed and deps <= set(placed))
    assert ready, f"import circle among {sorted(set(graph) - set(placed))}"
    placed += ready


def test_errors_config_and_sharding_sit_at_the_bottom():
  graph = _import_graph()
  assert graph["errors"] == set()
  assert graph["files"] == {"errors"}
  assert graph["config"] <= {"errors", "files", "configs"}
  assert graph["sharding"] == {"config", "errors"}


def test_the_data_pipeline_imports_no_model_and_no_train_step():
  allowed = {"config", "errors", "sharding"}
  for path in (PACKAGE / "data").glob("*.py"):
    imports = {m for m in _package_imports(path) if not m.startswith("data")}
    assert imports <= allowed, (path.name, imports - allowed)


def test_every_preset_names_a_registered_model_and_others_are_refused():
  import pytest
  from mocogan_jax import config, registry
  from mocogan_jax.errors import ConfigError
  assert {config.load(name).model for name in config.preset_names()} == set(registry.MODELS)
  with pytest.raises(ConfigError, match="model must be one of .'mocogan', 'vgan'"):
    registry.resolve("tiny", ["model=dvdgan"])


def test_network_modules_take_settings_not_the_config():
  """Only a model's own module (models/mocogan.py, vgan.py, tgan.py: the
  entries of registry.MODELS) turns a Config into module settings; the
  building blocks (layers, generator, discriminators, encoders, ...) do not."""
  from mocogan_jax import registry
  for path in (PACKAGE / "models").glob("*.py"):
    if path.stem not in registry.MODELS:
      assert "config" not in _package_imports(path), path.name


def _function_lengths():
  for path in PACKAGE.rglob("*.py"):
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.FunctionDef):
        yield path.relative_to(PACKAGE).as_posix(), node.name, node.end_lineno - node.lineno + 1


def test_no_package_function_is_over_100_lines_and_the_loop_reads_in_60():
  long = [entry for entry in _function_lengths() if entry[2] > 100]
  assert not long, long
  loop = {name: n for path, name, n in _function_lengths() if path == "train_loop.py"}
  assert loop["train"] <= 60 and loop["_train"] <= 60, loop


def test_no_command_line_module_is_over_350_lines():
  sizes = {p.name: len(p.read_text().splitlines()) for p in (PACKAGE / "cli").glob("*.py")}
  assert max(sizes.values()) <= 350, sizes


def test_the_project_speaks_of_itself_in_dates_commits_and_versions():
  """No numbered work periods (the word, a space, a number) in any tracked file: provenance
  is a date, a commit, a package version and the command."""
  root = PACKAGE.parent
  if not (root / ".git").exists():
    return  # an installed copy: the source tree is checked where it is a repository
  tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True,
                           check=True).stdout.split()
  pattern = re.compile(r"session [0-9]", re.IGNORECASE)
  found = [name for name in tracked if (root / name).is_file() and
           pattern.search((root / name).read_bytes().decode("utf-8", "replace"))]
  assert not found, found


def test_each_model_family_is_one_module_shaped_like_the_others():
  """A family's state, step, checks and info live in models/<name>.py; its
  sampler there too, or MoCoGAN's (conditional draws from the same
  generator); sampling_variables is the shared one where it is not its own."""
  from mocogan_jax import registry
  for name, model in registry.MODELS.items():
    own = f"mocogan_jax.models.{name}"
    for function in (model.create_train_state, model.train_step, model.config_problems,
                     model.info):
      assert function.__module__ == own, (name, function)
    assert model.sample_videos.__module__ in (own, "mocogan_jax.models.mocogan"), name
    assert model.sampling_variables.__module__ in (own, "mocogan_jax.gan"), name
