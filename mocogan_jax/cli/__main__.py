"""`python -m mocogan_jax.cli`, as the `mocogan-jax` command."""

from mocogan_jax.cli import run

run()
