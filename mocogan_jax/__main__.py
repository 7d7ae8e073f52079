"""python -m mocogan_jax: the same command line as `mocogan-jax`."""

from mocogan_jax.cli import main

main()
