"""Building the chat model the settings select: ``llm.backend = auto|none|ollama|embedded|fake``.

Only :class:`kb.runtime.Runtime` calls :func:`build_llm`.  ``auto`` (the default) uses Ollama
when it is reachable and has the locked model at the locked digest, and otherwise no chat
model at all — summaries, digests and answers are then extractive (the posts' own sentences,
chosen with the embedder) — with one notice (:func:`fallback_notice`) saying how to get
Ollama.  ``none`` is extractive only without asking Ollama.  The small in-process llama.cpp
model (``embedded``) is opt-in: it is too small to improve on the posts' own sentences.
"""

from __future__ import annotations

from kb.models.base import LLM, LLMError, ModelTimeout, ModelUnavailable
from kb.models.ollama import DigestMismatch, OllamaClient, OllamaLLM, OllamaModel
from kb.models.spec import (
    OllamaModelSpec,
    digests_match,
    llm_spec,
    normalize_tag,
)
from kb.settings import Settings


def _locked_model(settings: Settings, client: OllamaClient) -> tuple[OllamaModelSpec, OllamaModel]:
    """The selected chat model as Ollama has it, after checking that Ollama is reachable, has
    the model, and has the digest models.lock pins (when it pins one)."""
    spec = llm_spec(settings)
    have = client.tags().get(normalize_tag(spec.model))
    if have is None:
        raise client.not_found(spec.model)
    if spec.digest and not digests_match(spec.digest, have.digest):
        raise DigestMismatch(
            f"Ollama's {spec.model} is version {have.digest[:12] or '?'}, but "
            f"{settings.models_lock_path} pins {spec.digest[:12]}: run `kb models lock` to "
            f"accept the version you have (or pull the locked one)")
    return spec, have


def _ollama(settings: Settings) -> OllamaLLM:
    client = OllamaClient.from_settings(settings)
    try:
        spec, have = _locked_model(settings, client)
        trained = client.context_length(spec.model)
    except LLMError:
        client.close()
        raise
    num_ctx = min(spec.num_ctx, trained) if trained else spec.num_ctx
    return OllamaLLM(client, spec.model, num_ctx=num_ctx, digest=have.digest,
                     temperature=settings.llm.temperature,
                     max_output_tokens=settings.llm.max_output_tokens)


def fallback_notice(reason: str) -> str:
    return (f"Ollama is not available ({reason.rstrip('.')}), so kb runs without a chat "
            f"model: summaries, digests and answers are extractive (the posts' own sentences, "
            f"chosen with the embedder). For written summaries install Ollama "
            f"(https://ollama.com), run `ollama serve` and `kb models pull` (or set "
            f"llm.backend = \"embedded\" for the small built-in model).")


def fallback_expected(settings: Settings) -> str | None:
    """The notice :func:`build_llm` would give, found without building anything: whether
    ``auto`` would have to fall back because Ollama cannot serve the locked model (one quick
    ``/api/tags``).  For screens that want to warn before the first answer."""
    if settings.llm.backend != "auto":
        return None
    try:
        with OllamaClient.from_settings(settings, retries=0) as client:
            _locked_model(settings, client)
    except (ModelUnavailable, ModelTimeout) as exc:
        return fallback_notice(str(exc))
    except LLMError:  # any other answer: the model itself will say when it is asked
        return None
    return None


def build_llm(settings: Settings) -> tuple[LLM | None, str | None]:
    """The LLM the settings select (None: no chat model, extractive only), and the notice
    when ``auto`` found no Ollama to use (else None).  Raises :class:`ModelUnavailable` (one
    clear sentence) when an explicitly chosen backend cannot be used."""
    backend = settings.llm.backend
    if backend == "none":
        return None, None
    if backend == "fake":
        from kb.models.fake import FakeLLM

        return FakeLLM(), None
    if backend == "embedded":
        from kb.models.llamacpp_llm import load_llamacpp_llm

        return load_llamacpp_llm(settings), None
    if backend == "ollama":
        return _ollama(settings), None
    try:
        return _ollama(settings), None
    except (ModelUnavailable, ModelTimeout) as exc:
        return None, fallback_notice(str(exc))
