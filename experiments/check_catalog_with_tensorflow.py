"""The catalog adapters through the real TFDS builders, on TFDS's mock data.

    python3 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install -e . tensorflow-cpu
    /tmp/tfvenv/bin/python experiments/check_catalog_with_tensorflow.py

moving_mnist's and ucf101's builders need TensorFlow even under
tfds.testing.mock_data, which the test suite does without; bair's does not
(tests/test_catalog.py runs it). This script builds each of the three with
mock examples and reads one through load_source and make_batch, printing the
shapes and labels. It needs no download.
"""

from unittest import mock

import tensorflow_datasets as tfds

from mocogan_jax import config as config_lib
from mocogan_jax.data import pipeline

CASES = [
    ("moving_mnist", dict(image_size=64, channels=1, every_nth=1, use_categories=False)),
    ("ucf101", dict(image_size=16, label_key="label", n_categories=101)),
    ("bair_robot_pushing_small", dict(image_size=64, use_categories=False)),
]


def main():
  for name, overrides in CASES:
    config = config_lib.load("tiny").replace(dataset=name, **overrides)
    with tfds.testing.mock_data(num_examples=5), \
         mock.patch.object(tfds.core.DatasetBuilder, "is_prepared", return_value=True):
      source = pipeline.load_source(config)
      example = source[0]
      batch = pipeline.make_batch(source, config, 0)
    print(f"{name}: {len(source)} mock videos, first {example['video'].shape} "
          f"label {example.get('label')}; batch " +
          ", ".join(f"{k} {v.shape}" for k, v in batch.items()))


if __name__ == "__main__":
  main()
