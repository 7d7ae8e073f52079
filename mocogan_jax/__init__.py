"""MoCoGAN in JAX/Flax.

The functional API, for use in research code:

    config = mocogan_jax.resolve("demo", ["num_steps=100"])   # a preset, validated
    state = mocogan_jax.create_train_state(config, key)
    state, metrics = jax.jit(mocogan_jax.train_step, donate_argnums=0)(state, batch, key)
    videos = mocogan_jax.sample_videos(mocogan_jax.sampling_variables(state), config, key, 8)
"""

from mocogan_jax.config import Config
from mocogan_jax.models.mocogan import (NetworkState, TrainState, create_train_state,
                                        sample_videos, sampling_variables, train_step)
from mocogan_jax.registry import resolve

__all__ = ["Config", "NetworkState", "TrainState", "create_train_state", "resolve",
           "sample_videos", "sampling_variables", "train_step"]
