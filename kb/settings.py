"""One typed settings object: defaults < config files < ``KB_*`` environment.

Config files, later wins:

1. ``$XDG_CONFIG_HOME/kb/config.toml`` (default ``~/.config/kb/config.toml``; ``KB_CONFIG``
   names another file) — where `kb config init` writes and `kb config edit` opens;
2. ``$KB_HOME/config.toml`` — the older location, still read, so one archive can override the
   user's settings.

Every file kb writes lives under ``Settings.home`` (``KB_HOME``), so relocating that one
directory relocates the store, the vector index, digests, logs and the lock file.

Environment variables are ``KB_<SECTION>_<KEY>`` (``KB_LLM_BACKEND=embedded``,
``KB_INGEST_TIMEOUT=10``); ``OLLAMA_HOST`` is honoured for ``ollama.host`` and parsed exactly as
Ollama parses it (:func:`parse_ollama_host`).  ``kb config show`` prints each value with where
it came from.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal, get_args, get_origin, get_type_hints

APP = "kb"
OLLAMA_DEFAULT_PORT = 11434

Scalar = str | int | float | bool | tuple[str, ...]  # tuples: lists of text ([digest] topics)


class SettingsError(ValueError):
    """A setting has a value kb cannot use; the message names the setting and its origin."""


def parse_ollama_host(value: str) -> str:
    """``OLLAMA_HOST`` as Ollama itself reads it (its ``envconfig.Host``), as a base URL.

    ``0.0.0.0`` -> ``http://0.0.0.0:11434``; ``:11434`` -> ``http://127.0.0.1:11434``;
    ``host`` / ``host:port``; ``http(s)://host[:port][/path]`` — an explicit scheme without a
    port means that scheme's port (80 or 443), as in Ollama.  A port that is not a number in
    0..65535 falls back to the default, as Ollama does."""
    raw = value.strip()
    scheme, sep, hostport = raw.partition("://")
    default_port = OLLAMA_DEFAULT_PORT
    if not sep:
        scheme, hostport = "http", raw
    elif scheme == "http":
        default_port = 80
    elif scheme == "https":
        default_port = 443
    else:
        raise SettingsError(f"{value!r}: Ollama's host must be http or https, not {scheme!r}")
    hostport, slash, path = hostport.partition("/")
    host, port = _split_host_port(hostport)
    if not host:
        host = "127.0.0.1"
    try:
        port_n = int(port) if port else default_port
    except ValueError:
        port_n = default_port
    if not 0 <= port_n <= 65535:
        port_n = default_port
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}:{port_n}" + (f"/{path}".rstrip("/") if slash else "")


def _split_host_port(hostport: str) -> tuple[str, str]:
    """(host, port) of ``host``, ``host:port``, ``:port``, ``[v6]:port`` or ``[v6]``."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise SettingsError(f"{hostport!r}: an IPv6 address needs its closing ]")
        host, rest = hostport[1:end], hostport[end + 1:]
        return host, rest[1:] if rest.startswith(":") else ""
    if hostport.count(":") > 1:  # a bare IPv6 address, no port
        return hostport, ""
    host, _, port = hostport.partition(":")
    return host, port


@dataclass
class OllamaSettings:
    host: str = "http://127.0.0.1:11434"
    timeout: float = 300.0  # seconds for one request (for each read while streaming)
    retries: int = 2
    connect_timeout: float = 3.0


@dataclass
class LLMSettings:
    # auto: Ollama when reachable, else no chat model (extractive); none: extractive only
    backend: Literal["auto", "none", "ollama", "embedded", "fake"] = "auto"
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
    chroma_host: str = "127.0.0.1"  # with chroma = "http": the Chroma server
    chroma_port: int = 8000
    chroma_ssl: bool = False  # https to the server (e.g. through a TLS proxy)
    chroma_ca_cert: str = ""  # a CA bundle to verify the server's certificate; "" = system CAs
    chroma_token: str = ""  # sent as a static token (Chroma's token auth); KB_INDEX_CHROMA_TOKEN
    chroma_token_header: Literal["Authorization", "X-Chroma-Token"] = "Authorization"
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
    delay: float = 1.0  # seconds between two requests to the same host (one in flight per host)


@dataclass
class ForumSettings:
    """How `kb ingest` asks a forum (ForumMagnum GraphQL) source for what is new: a window from
    where the last one ended, reaching back a little so late arrivals are caught."""

    overlap_hours: float = 6.0  # each window starts this long before the previous one ended
    karma_lookback_hours: float = 72.0  # the reach-back of a source with a karma minimum
    first_days: int = 2  # a new source's first window: this many days back


@dataclass
class BackfillSettings:
    since_days: int = 365  # `kb backfill` without --since starts this many days back
    window_days: int = 30  # forum and WordPress history is walked in windows of this many days
    page_size: int = 50  # posts asked for per request
    index_every: int = 100  # new posts between two indexing batches while backfilling
    max_failures: int = 3  # windows failing in a row before a source is given up for this run


# What the digest counts as on-topic (digest/relevance.py compares posts with these); the
# first one is the core interest: a post close to it is never hidden from the themes.
DEFAULT_TOPICS: tuple[str, ...] = (
    "AI alignment and AI safety research",
    "machine learning, language models and AI systems",
    "AI policy, AI governance and forecasting AI progress",
    "rationality, decision theory, forecasting and epistemics",
)
# [digest] keys holding regular expressions (checked when the settings load)
REGEX_SETTINGS = frozenset({"mute_authors", "mute_titles"})


@dataclass
class DigestSettings:
    timezone: str = "UTC"
    max_themes: int = 4
    parallel: int = 1  # summaries in flight at once (Ollama serves one model request at a time)
    # your interests: a few sentences describing what you follow (the first is the core one)
    topics: tuple[str, ...] = DEFAULT_TOPICS
    # the killfile: posts by a matching author, with a matching title or tag stay in the archive
    # and in search but out of the digest (regexes, case-insensitive; tags: exact, any case)
    mute_authors: tuple[str, ...] = ()
    mute_titles: tuple[str, ...] = ()
    mute_tags: tuple[str, ...] = ()


@dataclass
class DailySettings:
    keep_logs_days: int = 30  # logs/daily-*.log older than this are deleted by `kb daily`; 0 keeps all


@dataclass
class TuiSettings:
    """`kb tui`'s look: the theme it starts with (the last one chosen there) and the two
    themes `t` switches between."""

    theme: str = "textual-dark"
    dark_theme: str = "textual-dark"
    light_theme: str = "textual-light"


@dataclass
class Settings:
    home: Path
    ollama: OllamaSettings = field(default_factory=OllamaSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    embed: EmbedSettings = field(default_factory=EmbedSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    forum: ForumSettings = field(default_factory=ForumSettings)
    backfill: BackfillSettings = field(default_factory=BackfillSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    daily: DailySettings = field(default_factory=DailySettings)
    tui: TuiSettings = field(default_factory=TuiSettings)
    # the user's config file (`kb config path`); it need not exist
    config_path: Path = field(default_factory=lambda: user_config_path({}))
    # where each value came from: "section.key" -> "default" | a config file | "env KB_X"
    origins: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    config_files: list[Path] = field(default_factory=list, repr=False, compare=False)

    # --- paths: everything kb writes is below home ---------------------------------------
    @property
    def legacy_config_path(self) -> Path:
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

    def as_rows(self) -> list[tuple[str, Scalar, str]]:
        """(key, value, origin) for every setting, for `kb config show`."""
        rows: list[tuple[str, Scalar, str]] = [
            ("home", str(self.home), self.origins.get("home", "default"))]
        for section in SECTIONS:
            obj = getattr(self, section)
            for f in fields(obj):
                key = f"{section}.{f.name}"
                value = getattr(obj, f.name)
                if f.name in SECRETS and value:
                    value = "********"  # shown as set, never printed
                rows.append((key, value, self.origins.get(key, "default")))
        return rows


SECTIONS = ("ollama", "llm", "embed", "index", "ingest", "forum", "backfill", "digest", "daily",
            "tui")
SECRETS = frozenset({"chroma_token"})


def shipped_models_lock() -> Path:
    """models.lock at the top of the source tree (installed editable) or inside the package
    (a wheel carries a copy as ``kb/models.lock``)."""
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "models.lock", here / "models.lock"):
        if cand.exists():
            return cand
    return here.parent / "models.lock"


def default_home(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ if env is None else env)
    xdg = env.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / APP


def user_config_path(env: dict[str, str]) -> Path:
    """``KB_CONFIG``, else ``$XDG_CONFIG_HOME/kb/config.toml`` (``~/.config/kb/config.toml``)."""
    if env.get("KB_CONFIG"):
        return Path(env["KB_CONFIG"]).expanduser()
    xdg = env.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / APP / "config.toml"


def _text_list(value: object, where: str) -> tuple[str, ...]:
    """A list of text: a TOML array of strings, or (from the environment) a JSON array or one
    item per line."""
    if isinstance(value, str):
        raw = value.strip()
        if raw.startswith("["):
            import json

            try:
                value = json.loads(raw)
            except ValueError as exc:
                raise SettingsError(f"{where}: {value!r} is not a JSON list of strings") from exc
        else:
            value = [line.strip() for line in raw.splitlines() if line.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise SettingsError(f"{where}: {value!r} is not a list of strings")
    return tuple(v for v in value if v.strip())


def _check_value(section: str, key: str, value: Scalar, where: str) -> None:
    """Checks a value's type cannot express: non-empty topics, valid regular expressions."""
    if (section, key) == ("digest", "topics") and not value:
        raise SettingsError(f"{where}: give at least one topic (a sentence describing what "
                            "you follow)")
    if section == "digest" and key in REGEX_SETTINGS and isinstance(value, tuple):
        import re

        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise SettingsError(f"{where}: {pattern!r} is not a valid regular expression: "
                                    f"{exc}") from exc


def _coerce(value: object, typ: object, where: str) -> Scalar:
    if get_origin(typ) is tuple:
        return _text_list(value, where)
    if get_origin(typ) is Literal:
        allowed = get_args(typ)
        if value not in allowed:
            raise SettingsError(f"{where}: {value!r} is not one of {', '.join(map(str, allowed))}")
        return str(value)
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
        if typ is int and not isinstance(value, bool | float):
            return int(str(value))
        if typ is float and not isinstance(value, bool):
            return float(str(value))
        if typ is str and isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    except ValueError as exc:
        raise SettingsError(f"{where}: {value!r} is not a valid "
                            f"{getattr(typ, '__name__', typ)}") from exc
    raise SettingsError(f"{where}: {value!r} is not a valid {getattr(typ, '__name__', typ)}")


def _apply(settings: Settings, section: str, key: str, value: object, origin: str) -> None:
    obj = getattr(settings, section)
    hints = get_type_hints(type(obj))
    if key not in hints:
        raise SettingsError(f"{origin}: unknown setting {section}.{key}")
    where = f"{origin} ({section}.{key})"
    coerced = _coerce(value, hints[key], where)
    _check_value(section, key, coerced, where)
    if (section, key) == ("ollama", "host"):
        try:
            coerced = parse_ollama_host(str(coerced))
        except SettingsError as exc:
            raise SettingsError(f"{where}: {exc}") from exc
    setattr(obj, key, coerced)
    settings.origins[f"{section}.{key}"] = origin


def read_config_file(path: Path) -> dict[str, dict[str, object]]:
    """The sections of a config file, checked for shape (values are checked when applied)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read the config file: {exc}") from exc
    out: dict[str, dict[str, object]] = {}
    for section, values in data.items():
        if section not in SECTIONS or not isinstance(values, dict):
            raise SettingsError(f"{path}: unknown section [{section}] "
                                f"(sections: {', '.join(SECTIONS)})")
        out[section] = dict(values)
    return out


def load_settings(env: dict[str, str] | None = None, home: Path | str | None = None) -> Settings:
    """Build the effective settings. ``env`` defaults to ``os.environ``."""
    env = dict(os.environ if env is None else env)
    origins: dict[str, str] = {}
    if home is not None:
        home_path, origins["home"] = Path(home), "argument"
    elif env.get("KB_HOME"):
        home_path, origins["home"] = Path(env["KB_HOME"]), "env KB_HOME"
    else:
        home_path, origins["home"] = default_home(env), "default"
    settings = Settings(home=home_path.expanduser(), config_path=user_config_path(env),
                        origins=origins)

    for cfg in dict.fromkeys([settings.config_path, settings.legacy_config_path]):
        if not cfg.is_file():
            continue
        settings.config_files.append(cfg)
        for section, values in read_config_file(cfg).items():
            for key, value in values.items():
                _apply(settings, section, key, value, str(cfg))

    if env.get("OLLAMA_HOST"):
        _apply(settings, "ollama", "host", env["OLLAMA_HOST"], "env OLLAMA_HOST")
    for name, value in sorted(env.items()):
        if not name.startswith("KB_") or name in ("KB_HOME", "KB_CONFIG"):
            continue
        rest = name[3:].lower()
        for section in SECTIONS:
            if rest.startswith(section + "_"):
                _apply(settings, section, rest[len(section) + 1:], value, f"env {name}")
                break
    return settings


def ensure_home(settings: Settings) -> Path:
    for d in (settings.home, settings.digests_dir, settings.logs_dir):
        d.mkdir(parents=True, exist_ok=True)
    return settings.home
