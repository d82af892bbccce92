"""Which Ollama model each role uses, from models.lock and the settings.

``[llm]`` is the default chat model, ``[llm.presets.<name>]`` the alternatives
(``settings.llm.preset``); ``settings.llm.model`` overrides the tag (then there is no locked
digest to check).  ``[embed_ollama]`` is the optional Ollama embedder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kb.models.base import LLMError
from kb.settings import Settings


@dataclass(frozen=True)
class OllamaModelSpec:
    role: str  # "llm", "llm.presets.fast", "embed_ollama"
    model: str  # Ollama tag
    num_ctx: int
    digest: str  # the locked digest; "" = not locked yet (or overridden)
    overridden: bool = False


def normalize_tag(tag: str) -> str:
    """``nomic-embed-text`` is ``nomic-embed-text:latest`` to Ollama."""
    return tag if ":" in tag.rsplit("/", 1)[-1] else tag + ":latest"


def clean_digest(digest: str | None) -> str:
    return (digest or "").strip().lower().removeprefix("sha256:")


def digests_match(locked: str, actual: str) -> bool:
    """Equal digests (a locked prefix of at least 12 hex digits also matches)."""
    a, b = clean_digest(locked), clean_digest(actual)
    if not a or not b:
        return False
    return a == b or (len(a) >= 12 and b.startswith(a))


def load_models_lock(settings: Settings) -> dict[str, Any]:
    from kb.models.lockfile import ModelFileError, load_lock

    try:
        return load_lock(settings.models_lock_path)
    except ModelFileError as exc:
        raise LLMError(str(exc)) from exc


def llm_specs(lock: dict[str, Any]) -> list[OllamaModelSpec]:
    """Every locked chat model: [llm] first, then its presets."""
    llm = lock.get("llm") or {}
    out = []
    if llm.get("model"):
        out.append(OllamaModelSpec("llm", llm["model"], int(llm.get("num_ctx", 8192)),
                                   clean_digest(llm.get("digest"))))
    for name, preset in (llm.get("presets") or {}).items():
        if isinstance(preset, dict) and preset.get("model"):
            out.append(OllamaModelSpec(f"llm.presets.{name}", preset["model"],
                                       int(preset.get("num_ctx", llm.get("num_ctx", 8192))),
                                       clean_digest(preset.get("digest"))))
    return out


def llm_spec(settings: Settings, lock: dict[str, Any] | None = None) -> OllamaModelSpec:
    """The chat model the settings select (preset, then model override)."""
    lock = lock if lock is not None else load_models_lock(settings)
    specs = {s.role: s for s in llm_specs(lock)}
    role = f"llm.presets.{settings.llm.preset}" if settings.llm.preset else "llm"
    if role not in specs:
        names = ", ".join(r.removeprefix("llm.presets.") for r in specs if r != "llm") or "none"
        raise LLMError(f"llm.preset {settings.llm.preset!r} is not in {settings.models_lock_path} "
                       f"(presets there: {names})")
    spec = specs[role]
    if settings.llm.model and normalize_tag(settings.llm.model) != normalize_tag(spec.model):
        return OllamaModelSpec(role, settings.llm.model, spec.num_ctx, "", overridden=True)
    return spec


def embed_ollama_spec(lock: dict[str, Any]) -> OllamaModelSpec | None:
    entry = lock.get("embed_ollama") or {}
    if not entry.get("model"):
        return None
    return OllamaModelSpec("embed_ollama", entry["model"], int(entry.get("max_tokens", 2048)),
                           clean_digest(entry.get("digest")))
