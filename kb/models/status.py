"""`kb models status|pull|lock`: what each model role has, fetching the locked Ollama tags,
and recording the digests the user's Ollama has in ``$KB_HOME/models.lock``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kb.models.base import LLMError
from kb.models.lock_edit import set_digests
from kb.models.ollama_client import OllamaClient, OllamaModel
from kb.models.spec import (
    OllamaModelSpec,
    digests_match,
    embed_ollama_spec,
    llm_spec,
    llm_specs,
    load_models_lock,
    normalize_tag,
)
from kb.settings import Settings


@dataclass
class RoleStatus:
    role: str  # embed | llm | llm_embedded | embed_ollama
    backend: str  # onnx | ollama | llama.cpp
    model: str
    selected: bool  # the settings use this role
    reachable: bool | None = None  # Ollama roles only
    present: bool = False
    digest: str | None = None  # what Ollama has
    locked_digest: str | None = None  # what models.lock pins ("" = not locked yet)
    digest_ok: bool | None = None  # None: not locked, or not an Ollama role
    sha256_ok: bool | None = None  # packaged files only
    path: str | None = None
    lock_entry: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return (self.present and self.reachable is not False and self.digest_ok is not False
                and self.sha256_ok is not False)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


def status_client(settings: Settings) -> OllamaClient:
    """A client for quick checks: no retries, and at most 30 s per request."""
    return OllamaClient.from_settings(settings, timeout=min(settings.ollama.timeout, 30.0),
                                      retries=0)


def _packaged(role: str, backend: str, lock: dict[str, Any], subs: list[str], selected: bool,
              name: str) -> RoleStatus:
    from kb.models.lockfile import ModelFileError, locate, packaged_file, verified_path

    st = RoleStatus(role, backend, name, selected, lock_entry=role)
    problems, paths = [], []
    present = sha_ok = True
    for sub in subs:
        try:
            pf = packaged_file(lock, f"{role}.{sub}")
        except ModelFileError as exc:
            problems.append(str(exc))
            present = sha_ok = False
            continue
        try:
            paths.append(str(locate(pf)))
        except ModelFileError as exc:
            problems.append(str(exc))
            present = False
            continue
        try:
            verified_path(pf)
        except ModelFileError as exc:
            problems.append(str(exc))
            sha_ok = False
    st.present, st.sha256_ok = present, (sha_ok if present else None)
    st.path = ", ".join(paths) or None
    st.detail = "; ".join(problems) or "ok"
    return st


def _ollama_role(role: str, spec: OllamaModelSpec, selected: bool,
                 have: dict[str, OllamaModel] | None, error: str) -> RoleStatus:
    st = RoleStatus(role, "ollama", spec.model, selected, lock_entry=spec.role,
                    reachable=have is not None, locked_digest=spec.digest)
    if have is None:
        st.detail = error
        return st
    m = have.get(normalize_tag(spec.model))
    st.present = m is not None
    if m is None:
        st.detail = f"not pulled: run `kb models pull` (or `ollama pull {spec.model}`)"
        return st
    st.digest = m.digest
    if spec.overridden:
        st.detail = "ok (llm.model overrides models.lock: digest not checked)"
    elif not spec.digest:
        st.detail = "ok, but not locked yet: run `kb models lock` to pin this version"
    else:
        st.digest_ok = digests_match(spec.digest, m.digest)
        st.detail = "ok" if st.digest_ok else (
            f"Ollama has version {m.digest[:12]}, models.lock pins {spec.digest[:12]}: run "
            f"`kb models lock` to accept it (or pull the locked version)")
    return st


def models_status(settings: Settings) -> dict[str, Any]:
    """Every role's state, for `kb models status [--json]`."""
    lock = load_models_lock(settings)
    client = status_client(settings)
    have: dict[str, OllamaModel] | None
    try:
        have, error = client.tags(), ""
    except LLMError as exc:
        have, error = None, str(exc)
    finally:
        client.close()
    backend = settings.llm.backend
    roles = [_packaged("embed", "onnx", lock, ["package", "tokenizer"],
                       settings.embed.backend == "onnx", str(lock.get("embed", {}).get("name", "")))]
    llm = llm_spec(settings, lock)
    roles.append(_ollama_role("llm", llm, backend in ("auto", "ollama"), have, error))
    roles.append(_packaged("llm_embedded", "llama.cpp", lock, ["package"],
                           backend == "embedded",
                           str(lock.get("llm_embedded", {}).get("name", ""))))
    emb = embed_ollama_spec(lock)
    if emb is not None:
        roles.append(_ollama_role("embed_ollama", emb, settings.embed.backend == "ollama",
                                  have, error))
    by_role = {r.role: r for r in roles}
    # auto without Ollama: "none", i.e. extractive only
    active = ("ollama" if by_role["llm"].ok else "none") if backend == "auto" else backend
    return {"models_lock": str(settings.models_lock_path), "ollama_host": settings.ollama.host,
            "llm_backend": backend, "active_llm": active,
            "roles": [r.to_json() for r in roles]}


# --- kb models pull -------------------------------------------------------------------------
def tags_to_pull(settings: Settings, all_tags: bool = False) -> list[OllamaModelSpec]:
    """The selected chat model (and the Ollama embedder when it is selected); every locked
    Ollama tag with ``all_tags``."""
    lock = load_models_lock(settings)
    specs = llm_specs(lock) if all_tags else [llm_spec(settings, lock)]
    emb = embed_ollama_spec(lock)
    if emb is not None and (all_tags or settings.embed.backend == "ollama"):
        specs.append(emb)
    return specs


Progress = Callable[[str, str, int | None, int | None], None]  # tag, status, completed, total


def pull(settings: Settings, model: str, on_progress: Progress | None = None) -> None:
    """Have Ollama pull one tag, reporting its progress; raises LLMError (also when the
    download stops before Ollama reports success)."""
    with OllamaClient.from_settings(settings) as client:
        for part in client.pull(model):
            if on_progress is not None:
                on_progress(model, part.status or "", part.completed, part.total)


# --- kb models lock -------------------------------------------------------------------------
@dataclass
class LockResult:
    path: Path
    locked: list[tuple[str, str, str]]  # (lock entry, tag, digest)
    missing: list[tuple[str, str]]  # (lock entry, tag) Ollama does not have


def lock_digests(settings: Settings) -> LockResult:
    """Record the digests the user's Ollama has for every locked tag into
    ``$KB_HOME/models.lock`` (a copy of the current lock; written atomically)."""
    source = settings.models_lock_path
    lock = load_models_lock(settings)
    specs = llm_specs(lock)
    emb = embed_ollama_spec(lock)
    if emb is not None:
        specs.append(emb)
    client = status_client(settings)
    try:
        have = client.tags()
    finally:
        client.close()
    locked, missing, digests = [], [], {}
    for spec in specs:
        m = have.get(normalize_tag(spec.model))
        if m is None or not m.digest:
            missing.append((spec.role, spec.model))
            continue
        digests[spec.role] = m.digest
        locked.append((spec.role, spec.model, m.digest))
    target = settings.home / "models.lock"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".models.lock.{os.getpid()}.tmp")
    tmp.write_text(set_digests(source.read_text(encoding="utf-8"), digests), encoding="utf-8")
    os.replace(tmp, target)
    return LockResult(target, locked, missing)
