"""Embeddings served by Ollama (``POST /api/embed``), e.g. ``nomic-embed-text``.

Select with ``KB_EMBED_BACKEND=ollama`` (or ``[embed] backend = "ollama"``); the model is the
``[embed_ollama]`` entry of models.lock unless ``embed.ollama_model`` overrides it.
"""

from __future__ import annotations

import math
from typing import Any

from kb.embed.base import EmbedderError


class OllamaEmbedder:
    def __init__(self, host: str, model: str, *, dim: int | None = None, max_tokens: int = 2048,
                 digest: str = "", timeout: float = 300.0, connect_timeout: float = 3.0,
                 batch_size: int = 32) -> None:
        import httpx

        self.host = host.rstrip("/")
        self.model = model
        self._dim = dim
        self._max_tokens = max_tokens
        self._digest = digest
        self.batch_size = max(1, batch_size)
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=connect_timeout))
        self.requests = 0

    @property
    def model_id(self) -> str:
        tag = self.model if ":" in self.model else self.model + ":latest"
        return f"ollama:{tag}" + (f"@{self._digest.removeprefix('sha256:')[:12]}"
                                  if self._digest else "")

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = len(self._embed(["dimension probe"])[0])
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        # no tokenizer for a served model: a conservative estimate (BPE averages ~4 chars/token)
        return len(text) // 3 + 2

    def _embed(self, texts: list[str]) -> list[list[float]]:
        import httpx

        url = f"{self.host}/api/embed"
        try:
            resp = self._client.post(url, json={"model": self.model, "input": texts,
                                                "truncate": True})
        except httpx.HTTPError as exc:
            raise EmbedderError(
                f"Ollama at {self.host} is not reachable for embeddings ({exc.__class__.__name__}: "
                f"{exc}); start it with `ollama serve`, set OLLAMA_HOST, or use "
                "KB_EMBED_BACKEND=onnx") from exc
        self.requests += 1
        if resp.status_code == 404:
            raise EmbedderError(f"Ollama at {self.host} has no model {self.model!r}: run "
                                f"`ollama pull {self.model}`")
        if resp.status_code != 200:
            raise EmbedderError(f"Ollama at {self.host} answered {resp.status_code} to /api/embed: "
                                f"{resp.text[:200]}")
        try:
            data: Any = resp.json()
            vecs = data["embeddings"]
            if not isinstance(vecs, list) or len(vecs) != len(texts):
                raise ValueError(f"{len(vecs) if isinstance(vecs, list) else 'no'} embeddings "
                                 f"for {len(texts)} inputs")
            out = [_unit([float(x) for x in v]) for v in vecs]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbedderError(f"Ollama at {self.host} sent a malformed /api/embed answer: "
                                f"{exc}") from exc
        if out and self._dim is not None and len(out[0]) != self._dim:
            raise EmbedderError(f"Ollama model {self.model} returned {len(out[0])}-dim vectors, "
                                f"expected {self._dim} (models.lock [embed_ollama] dim)")
        if out and self._dim is None:
            self._dim = len(out[0])
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            out += self._embed(texts[i:i + self.batch_size])
        return out

    def embed_query(self, text: str) -> list[float]:
        return self._embed([text])[0]


def _unit(v: list[float]) -> list[float]:
    n = math.sqrt(sum(x * x for x in v))
    if n == 0.0:
        raise ValueError("a zero vector")
    return [x / n for x in v]


def load_ollama_embedder(settings: Any) -> OllamaEmbedder:
    from kb.models.lockfile import ModelFileError, load_lock

    try:
        entry = load_lock(settings.models_lock_path).get("embed_ollama", {})
    except ModelFileError as exc:
        raise EmbedderError(str(exc)) from exc
    locked = str(entry.get("model", "nomic-embed-text"))
    model = settings.embed.ollama_model or locked
    same = model == locked
    return OllamaEmbedder(
        settings.ollama.host, model,
        dim=int(entry["dim"]) if same and entry.get("dim") else None,
        max_tokens=int(entry.get("max_tokens", 2048)) if same else 512,
        digest=str(entry.get("digest", "")) if same else "",
        timeout=settings.ollama.timeout, connect_timeout=settings.ollama.connect_timeout,
        batch_size=settings.embed.batch_size)
