"""One typed settings object: defaults < ``$KB_HOME/config.toml`` < ``KB_*`` environment.

Every file kb writes lives under ``Settings.home`` (``KB_HOME``), so relocating that one
directory relocates the store, the vector index, digests, logs and the lock file.

Environment variables are ``KB_<SECTION>_<KEY>`` (``KB_LLM_BACKEND=embedded``,
``KB_INGEST_TIMEOUT=10``); ``OLLAMA_HOST`` is honoured for ``ollama.host`` as Ollama's own
clients do.  ``kb config show`` prints each value with where it came from.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

APP = "kb"


class SettingsError(ValueError):
    """A setting has a value kb cannot use; the message names the setting and its origin."""


@dataclass
class OllamaSettings:
    host: str = "http://127.0.0.1:11434"
    timeout: float = 300.0  # seconds for one request
    retries: int = 2
    connect_timeout: float = 3.0


@dataclass
class LLMSettings:
    backend: Literal["auto", "ollama", "embedded", "fake"] = "auto"
    preset: str = ""  # "" = the [llm] entry of models.lock; "fast" = [llm.presets.fast]
    model: str = ""  # override the locked model tag (then digest checks are skipped)
    temperature: float = 0.0
    threads: int = 0  # llama.cpp threads for the embedded backend; 0 = all cores
    max_output_tokens: int = 1024


@dataclass
class EmbedSettings:
    backend: Literal["onnx", "ollama", "fake"] = "onnx"
    batch_size: int = 4  # texts per model call: as fast as 32 here, and peak RSS ~600 MB vs 1.9 GB
    threads: int = 0  # onnxruntime intra-op threads; 0 = all cores
    ollama_model: str = ""  # override the [embed_ollama] model of models.lock


@dataclass
class IndexSettings:
    chroma: Literal["persistent", "http"] = "persistent"
    chroma_host: str = "127.0.0.1"
    chroma_port: int = 8000
    batch_size: int = 250


@dataclass
class IngestSettings:
    timeout: float = 20.0
    retries: int = 3
    backoff: float = 1.0  # seconds; doubled on each retry
    max_bytes: int = 20_000_000
    concurrency: int = 4
    user_agent: str = "kb/0.1 (offline alignment-research digest; +https://github.com/kb-alignment/kb)"
    index: bool = True  # `kb ingest` indexes what it ingested unless told not to


@dataclass
class DigestSettings:
    timezone: str = "UTC"
    max_themes: int = 4
    parallel: int = 1  # summaries in flight at once (Ollama serves one model request at a time)


@dataclass
class Settings:
    home: Path
    ollama: OllamaSettings = field(default_factory=OllamaSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    embed: EmbedSettings = field(default_factory=EmbedSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    # where each value came from: "section.key" -> "default" | "config.toml" | "env KB_X"
    origins: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    # --- paths: everything kb writes is below home ---------------------------------------
    @property
    def config_path(self) -> Path:
        return self.home / "config.toml"

    @property
    def db_path(self) -> Path:
        return self.home / "kb.sqlite3"

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def digests_dir(self) -> Path:
        return self.home / "digests"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def lock_path(self) -> Path:
        return self.home / "daily.lock"

    @property
    def models_lock_path(self) -> Path:
        """The user's models.lock: ``$KB_HOME/models.lock`` once `kb models lock` wrote one,
        else the one shipped with kb."""
        user = self.home / "models.lock"
        return user if user.exists() else shipped_models_lock()

    def as_rows(self) -> list[tuple[str, Any, str]]:
        """(key, value, origin) for every setting, for `kb config show`."""
        rows: list[tuple[str, Any, str]] = [("home", str(self.home), self.origins.get("home", "default"))]
        for section in SECTIONS:
            obj = getattr(self, section)
            for f in fields(obj):
                key = f"{section}.{f.name}"
                rows.append((key, getattr(obj, f.name), self.origins.get(key, "default")))
        return rows


SECTIONS = ("ollama", "llm", "embed", "index", "ingest", "digest")


def shipped_models_lock() -> Path:
    """models.lock at the top of the source tree (installed editable) or next to the package."""
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "models.lock", here / "models.lock"):
        if cand.exists():
            return cand
    return here.parent / "models.lock"


def default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / APP


def _coerce(value: Any, typ: Any, where: str) -> Any:
    origin = get_origin(typ)
    if origin is Literal:
        allowed = get_args(typ)
        if value not in allowed:
            raise SettingsError(f"{where}: {value!r} is not one of {', '.join(map(str, allowed))}")
        return value
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            s = str(value).strip().lower()
            if s in ("1", "true", "yes", "on"):
                return True
            if s in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if typ is int:
            return int(value)
        if typ is float:
            return float(value)
        if typ is str:
            return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{where}: {value!r} is not a valid {typ.__name__}") from exc
    return value


def _apply(obj: Any, key: str, value: Any, section: str, origin: str, origins: dict[str, str]) -> None:
    hints = get_type_hints(type(obj))
    if key not in hints:
        raise SettingsError(f"{origin}: unknown setting {section}.{key}")
    setattr(obj, key, _coerce(value, hints[key], f"{origin} ({section}.{key})"))
    origins[f"{section}.{key}"] = origin


def load_settings(env: dict[str, str] | None = None, home: Path | str | None = None) -> Settings:
    """Build the effective settings. ``env`` defaults to ``os.environ``."""
    env = dict(os.environ if env is None else env)
    origins: dict[str, str] = {}
    if home is not None:
        home_path, origins["home"] = Path(home), "argument"
    elif env.get("KB_HOME"):
        home_path, origins["home"] = Path(env["KB_HOME"]), "env KB_HOME"
    else:
        home_path, origins["home"] = default_home(), "default"
    settings = Settings(home=home_path.expanduser(), origins=origins)

    cfg = settings.config_path
    if cfg.exists():
        try:
            data = tomllib.loads(cfg.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{cfg}: not valid TOML: {exc}") from exc
        for section, values in data.items():
            if section not in SECTIONS or not isinstance(values, dict):
                raise SettingsError(f"{cfg}: unknown section [{section}]")
            for key, value in values.items():
                _apply(getattr(settings, section), key, value, section, "config.toml", origins)

    if env.get("OLLAMA_HOST"):
        host = env["OLLAMA_HOST"]
        if "://" not in host:
            host = "http://" + host
        _apply(settings.ollama, "host", host, "ollama", "env OLLAMA_HOST", origins)
    for name, value in sorted(env.items()):
        if not name.startswith("KB_") or name == "KB_HOME":
            continue
        rest = name[3:].lower()
        for section in SECTIONS:
            if rest.startswith(section + "_"):
                key = rest[len(section) + 1 :]
                _apply(getattr(settings, section), key, value, section, f"env {name}", origins)
                break
    return settings


def ensure_home(settings: Settings) -> Path:
    for d in (settings.home, settings.digests_dir, settings.logs_dir):
        d.mkdir(parents=True, exist_ok=True)
    return settings.home
