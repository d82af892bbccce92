"""Embeddings served by Ollama (``/api/embed``), e.g. ``nomic-embed-text``.

Select with ``KB_EMBED_BACKEND=ollama`` (or ``[embed] backend = "ollama"``); the model is the
``[embed_ollama]`` entry of models.lock unless ``embed.ollama_model`` overrides it.  Requests go
through :class:`~kb.models.ollama_client.OllamaClient`, so the embedder has the chat backend's
timeouts, retries and proxy policy; its failures are :class:`EmbedderError` sentences.
"""

from __future__ import annotations

import math

from kb.embed.base import EmbedderError
from kb.models.base import LLMError
from kb.models.ollama_client import ModelNotFound, OllamaClient, OllamaUnreachable
from kb.settings import Settings


class OllamaEmbedder:
    """An embedding model served by Ollama, implementing :class:`kb.embed.base.Embedder`.

    ``dim`` is what models.lock records for the model: vectors of another size are refused
    (an index built for one model must never be filled with another's vectors)."""

    def __init__(self, client: OllamaClient, model: str, *, dim: int | None = None,
                 max_tokens: int = 2048, digest: str = "", batch_size: int = 32) -> None:
        self.client = client
        self.model = model
        self._dim = dim
        self._max_tokens = max_tokens
        self._digest = digest
        self.batch_size = max(1, batch_size)
        self.requests = 0

    @property
    def host(self) -> str:
        return self.client.host

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

    def close(self) -> None:
        self.client.close()

    def _embed(self, texts: list[str]) -> list[list[float]]:
        vecs = self._request(texts)
        if len(vecs) != len(texts):
            raise EmbedderError(f"Ollama at {self.host} sent {len(vecs)} embeddings for "
                                f"{len(texts)} inputs: try again, and check the server log")
        try:
            out = [_unit(v) for v in vecs]
        except ValueError as exc:
            raise EmbedderError(f"Ollama model {self.model} at {self.host} returned {exc}: "
                                f"check the model") from exc
        if out and self._dim is not None and len(out[0]) != self._dim:
            raise EmbedderError(f"Ollama model {self.model} returned {len(out[0])}-dim vectors, "
                                f"expected {self._dim} (models.lock [embed_ollama] dim)")
        if out and self._dim is None:
            self._dim = len(out[0])
        return out

    def _request(self, texts: list[str]) -> list[list[float]]:
        try:
            vecs = self.client.embed(self.model, texts)
        except OllamaUnreachable as exc:
            raise EmbedderError(
                f"Ollama at {self.host} is not reachable for embeddings: start it with "
                f"`ollama serve`, set OLLAMA_HOST, or use KB_EMBED_BACKEND=onnx") from exc
        except ModelNotFound as exc:
            raise EmbedderError(f"Ollama at {self.host} has no model {self.model!r}: run "
                                f"`ollama pull {self.model}`") from exc
        except LLMError as exc:
            raise EmbedderError(f"embedding with {self.model} failed: {exc}") from exc
        self.requests += 1
        return vecs

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


def load_ollama_embedder(settings: Settings) -> OllamaEmbedder:
    """The embedder of ``settings``: models.lock's ``[embed_ollama]`` model (its dim, context
    and digest), or ``embed.ollama_model`` (then nothing is known about it in advance)."""
    from kb.models.lockfile import ModelFileError, load_lock

    try:
        entry = load_lock(settings.models_lock_path).get("embed_ollama", {})
    except ModelFileError as exc:
        raise EmbedderError(str(exc)) from exc
    locked = str(entry.get("model", "nomic-embed-text"))
    model = settings.embed.ollama_model or locked
    same = model == locked
    return OllamaEmbedder(
        OllamaClient.from_settings(settings), model,
        dim=int(entry["dim"]) if same and entry.get("dim") else None,
        max_tokens=int(entry.get("max_tokens", 2048)) if same else 512,
        digest=str(entry.get("digest", "")) if same else "",
        batch_size=settings.embed.batch_size)
