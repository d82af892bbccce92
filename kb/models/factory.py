"""Choosing the LLM backend: ``llm.backend = auto|ollama|embedded|fake``.

``auto`` (the default) uses Ollama when it is reachable and has the locked model at the locked
digest, and otherwise the small embedded model with a visible notice
(:func:`llm_notice`) saying that quality is limited and how to get Ollama.
"""

from __future__ import annotations

import threading

from kb.models.base import LLM, LLMError, ModelTimeout, ModelUnavailable
from kb.models.ollama import DigestMismatch, OllamaClient, OllamaLLM
from kb.models.spec import digests_match, llm_spec, load_models_lock, normalize_tag
from kb.settings import Settings

_NOTICES: dict[tuple[str, ...], str | None] = {}
_NOTICES_LOCK = threading.Lock()


def _key(settings: Settings) -> tuple[str, ...]:
    return (str(settings.home), settings.llm.backend, settings.ollama.host, settings.llm.preset,
            settings.llm.model)


def ollama_client(settings: Settings) -> OllamaClient:
    o = settings.ollama
    return OllamaClient(o.host, timeout=o.timeout, connect_timeout=o.connect_timeout,
                        retries=o.retries)


def get_ollama(settings: Settings) -> OllamaLLM:
    """The Ollama backend for the selected model, after checking that Ollama is reachable, has
    the model, and has the digest models.lock pins (when it pins one)."""
    spec = llm_spec(settings)
    client = ollama_client(settings)
    try:
        have = client.tags().get(normalize_tag(spec.model))
        if have is None:
            raise client.not_found(spec.model)
        if spec.digest and not digests_match(spec.digest, have.digest):
            raise DigestMismatch(
                f"Ollama's {spec.model} is version {have.digest[:12] or '?'}, but "
                f"{settings.models_lock_path} pins {spec.digest[:12]}: run `kb models lock` to "
                f"accept the version you have (or pull the locked one)")
        trained = client.context_length(spec.model)
    except LLMError:
        client.close()
        raise
    num_ctx = min(spec.num_ctx, trained) if trained else spec.num_ctx
    return OllamaLLM(client, spec.model, num_ctx=num_ctx, digest=have.digest,
                     temperature=settings.llm.temperature,
                     max_output_tokens=settings.llm.max_output_tokens)


def fallback_notice(reason: str) -> str:
    return (f"Ollama is not available ({reason.rstrip('.')}), so kb is using its small "
            f"built-in model: summaries, digests and answers will be of limited quality. "
            f"For the real model install Ollama (https://ollama.com), run `ollama serve` and "
            f"`kb models pull`.")


def get_llm(settings: Settings) -> LLM:
    """The LLM the settings select.  Raises :class:`ModelUnavailable` (one clear sentence)
    when the chosen backend cannot be used."""
    backend = settings.llm.backend
    if backend == "fake":
        from kb.models.fake import FakeLLM

        return FakeLLM()
    if backend == "embedded":
        from kb.models.embedded import load_embedded

        return load_embedded(settings)
    if backend == "ollama":
        return get_ollama(settings)
    try:
        llm: LLM = get_ollama(settings)
        notice = None
    except (ModelUnavailable, ModelTimeout) as exc:
        from kb.models.embedded import load_embedded

        try:
            llm = load_embedded(settings, load_models_lock(settings))
        except ModelUnavailable as exc2:
            raise ModelUnavailable(f"{exc} — and the built-in fallback model cannot be used "
                                   f"either: {exc2}") from exc2
        notice = fallback_notice(str(exc))
    with _NOTICES_LOCK:
        _NOTICES[_key(settings)] = notice
    return llm


def llm_notice(settings: Settings) -> str | None:
    """The "quality is limited" notice when ``auto`` falls back to the embedded model, else
    None.  Uses what :func:`get_llm` found; asks Ollama (cheaply) if get_llm was not called."""
    if settings.llm.backend != "auto":
        return None
    with _NOTICES_LOCK:
        if _key(settings) in _NOTICES:
            return _NOTICES[_key(settings)]
    try:
        get_ollama(settings).client.close()
    except (ModelUnavailable, ModelTimeout) as exc:
        return fallback_notice(str(exc))
    except LLMError:
        return None
    return None
