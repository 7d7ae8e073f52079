"""The user's mistakes, as one exception the command line prints in one line.

A leaf module: everything may import it, it imports nothing of the package.
"""


class ConfigError(ValueError):
  """A user mistake in the configuration or the input; the CLI prints it as one
  line and exits 2."""


def problems_error(problems: list[str]) -> ConfigError:
  """One ConfigError naming every problem, so one try shows all the fixes."""
  if len(problems) == 1:
    return ConfigError(problems[0])
  return ConfigError(f"{len(problems)} problems: " + "; ".join(
      f"({i}) {p}" for i, p in enumerate(problems, 1)))
