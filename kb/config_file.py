"""The commented config file `kb config init` writes: every section and setting of
:mod:`kb.settings`, its default value and one line saying what it does.

The sections, keys, defaults and allowed values are read from the settings dataclasses
themselves, so the file cannot drift from what kb accepts; only the one-line descriptions
are written here (and a test checks every setting has one).  Generating is plain text: a
value is written as a TOML literal, and the file is read back by :func:`kb.settings.read_config_file`
like any other config file.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, fields
from typing import Literal, get_args, get_origin, get_type_hints

from kb.settings import SECTIONS, Scalar, Settings

# What each setting does, in one line.  Missing entries fall back to a neutral comment (so a
# new setting never breaks `kb config init`), and tests/test_config_cli.py fails until the
# line is written.
DESCRIPTIONS: dict[str, str] = {
    "ollama.host": "Ollama's base URL (OLLAMA_HOST also sets it, read as Ollama reads it)",
    "ollama.timeout": "seconds one request may take (each read, while streaming)",
    "ollama.retries": "retries of a failed request to Ollama",
    "ollama.connect_timeout": "seconds to wait for Ollama to accept a connection",
    "llm.backend": "which chat model writes prose: auto = Ollama when it has the locked model, "
                   "else none (extractive: the posts' own sentences); embedded = SmolLM2 in process",
    "llm.preset": "\"\" = the [llm] model of models.lock; \"fast\" = its [llm.presets.fast] model",
    "llm.model": "an Ollama tag overriding the locked model (its digest is then not checked)",
    "llm.temperature": "sampling temperature of the chat model (0 = deterministic)",
    "llm.threads": "CPU threads for the embedded llama.cpp model; 0 = all cores",
    "llm.max_output_tokens": "most tokens the chat model may write in one answer",
    "embed.backend": "sentence embedder: onnx = the packaged MiniLM; ollama = [embed_ollama] "
                     "of models.lock",
    "embed.batch_size": "texts per embedding call (larger needs more memory, is not faster)",
    "embed.threads": "onnxruntime threads; 0 = all cores",
    "embed.ollama_model": "an Ollama tag overriding the [embed_ollama] model of models.lock",
    "index.chroma": "persistent = Chroma files under $KB_HOME/chroma; http = a Chroma server",
    "index.chroma_host": "the Chroma server's host (with chroma = \"http\")",
    "index.chroma_port": "the Chroma server's port (with chroma = \"http\")",
    "index.chroma_ssl": "talk https to the Chroma server (e.g. through a TLS proxy)",
    "index.chroma_ca_cert": "a CA bundle file to verify the server's certificate; \"\" = the "
                            "system's CAs",
    "index.chroma_token": "a static token for Chroma's token auth (better: KB_INDEX_CHROMA_TOKEN)",
    "index.chroma_token_header": "how the token is sent: Authorization (Bearer) or "
                                 "X-Chroma-Token",
    "index.batch_size": "passages written to the vector index per batch",
    "ingest.timeout": "seconds one HTTP fetch may take",
    "ingest.retries": "retries of a fetch that failed with 429, 5xx or a network error",
    "ingest.backoff": "seconds before the first retry, doubled on each further retry",
    "ingest.max_bytes": "largest response body kb accepts; bigger ones are refused",
    "ingest.concurrency": "sources fetched at the same time",
    "ingest.user_agent": "the User-Agent header sent with every fetch",
    "ingest.index": "index what `kb ingest` stored, right after ingesting",
    "ingest.delay": "seconds between two requests to the same host (kb never sends two at once)",
    "forum.overlap_hours": "a forum source's next window starts this many hours before the "
                           "last one ended, to catch late posts",
    "forum.karma_lookback_hours": "the same reach-back for a source with a karma minimum (posts "
                                  "reach it late)",
    "forum.first_days": "days a new forum source's first window reaches back",
    "backfill.since_days": "days `kb backfill` reaches back without --since",
    "backfill.window_days": "days per window when walking forum and WordPress history",
    "backfill.page_size": "posts asked for per request while backfilling",
    "backfill.index_every": "new posts between two indexing batches while backfilling",
    "backfill.max_failures": "failed windows in a row before a source is given up for the run",
    "digest.timezone": "IANA time zone deciding which calendar day a post belongs to",
    "digest.max_themes": "most themes in one digest",
    "digest.parallel": "summaries in flight at once (Ollama serves one request at a time)",
    "digest.topics": "what you follow, a few sentences; posts far from all of them leave the "
                     "digest's themes (the first is the core one: close to it is never hidden)",
    "digest.mute_authors": "regexes (any case): posts by a matching author stay out of the digest",
    "digest.mute_titles": "regexes (any case): posts with a matching title stay out of the digest",
    "digest.mute_tags": "tags or categories (any case): posts with one stay out of the digest",
    "daily.keep_logs_days": "days to keep the logs of `kb daily`; 0 keeps them all",
    "tui.theme": "the theme `kb tui` starts with (saved when you pick one there)",
    "tui.dark_theme": "the dark theme `t` switches to in `kb tui`",
    "tui.light_theme": "the light theme `t` switches to in `kb tui`",
}

# Values of a Literal setting that exist only for the test suite; not offered to users.
HIDDEN_CHOICES = frozenset({"fake"})

HEADER = """\
# kb's configuration, written by `kb config init`.
#
# Every setting is listed with its default value.  Delete a line to follow kb's default
# (also in later versions); `kb config show` prints the effective value of each setting and
# where it came from.  Later sources win: this file < $KB_HOME/config.toml (the older
# location, still read) < environment variables KB_<SECTION>_<KEY>, e.g. KB_LLM_BACKEND.
# After editing, `kb config edit` (or any kb command) checks the file and names a bad key.
"""


def toml_value(value: Scalar) -> str:
    """``value`` as a TOML literal (basic strings escape what TOML requires)."""
    if isinstance(value, tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    out = []
    for ch in str(value):
        if ch in "\"\\":
            out.append("\\" + ch)
        elif ch == "\t":
            out.append(ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _type_note(typ: object) -> str:
    if get_origin(typ) is Literal:
        choices = [str(c) for c in get_args(typ) if c not in HIDDEN_CHOICES]
        return "one of: " + ", ".join(choices)
    if get_origin(typ) is tuple:
        return "list of text"
    return {bool: "true or false", int: "integer", float: "number", str: "text"}.get(
        typ if isinstance(typ, type) else object, "")


def section_classes() -> dict[str, type]:
    """Each section name of :data:`kb.settings.SECTIONS` -> its settings dataclass."""
    hints = get_type_hints(Settings)
    return {section: hints[section] for section in SECTIONS}


def default_values() -> dict[str, dict[str, Scalar]]:
    """Every setting's default, by section, straight from the dataclasses."""
    out: dict[str, dict[str, Scalar]] = {}
    for section, cls in section_classes().items():
        values: dict[str, Scalar] = {}
        for f in fields(cls):
            if f.default is not MISSING:
                values[f.name] = f.default
            elif f.default_factory is not MISSING:
                values[f.name] = f.default_factory()
        out[section] = values
    return out


def render_config() -> str:
    """The whole commented config file, every setting at its default."""
    defaults = default_values()
    parts = [HEADER]
    for section, cls in section_classes().items():
        hints = get_type_hints(cls)
        parts.append(f"\n[{section}]\n")
        for name, value in defaults[section].items():
            key = f"{section}.{name}"
            env = f"KB_{section.upper()}_{name.upper()}"
            description = DESCRIPTIONS.get(key, f"the {key} setting")
            note = _type_note(hints[name])
            parts.append(f"# {description} [{note + '; ' if note else ''}env {env}]\n")
            parts.append(f"{name} = {toml_value(value)}\n")
    return "".join(parts)
