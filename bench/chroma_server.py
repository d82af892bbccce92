"""A real Chroma server for tests and benchmarks: ``chroma run`` from the installed chromadb
package, on 127.0.0.1 and a free port, with its data in a directory of ours.

    with ChromaServer(tmp_path / "chroma-server") as server:
        settings.index.chroma, settings.index.chroma_port = "http", server.port
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chroma_executable() -> str:
    """The `chroma` script of this environment (beside the running Python)."""
    beside = Path(sys.executable).parent / "chroma"
    return str(beside) if beside.exists() else "chroma"


class ChromaServer:
    """Starts (and can stop and restart) `chroma run --path DIR --host 127.0.0.1 --port P`."""

    def __init__(self, path: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.path, self.host = Path(path), host
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.path.with_name(self.path.name + ".log")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 60.0) -> ChromaServer:
        self.path.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [chroma_executable(), "run", "--path", str(self.path), "--host", self.host,
                 "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}: "
                                   f"{self.log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"chroma run did not answer on {self.url} within {timeout:g} s")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); its data stays in ``path``."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self.proc = None

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL), as a crash or a pulled cable would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)
        self.proc = None

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
