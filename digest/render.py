"""Markdown of a structured digest, in the format readers of the daily digest know.

Titles and links come from the store (the digest JSON copies them from there); model text
has already been reduced to plain sentences with citation markers.  Store text is escaped so
it renders as text: a title cannot open a link, a heading or an autolink.
"""

from __future__ import annotations

import re
from typing import Any

HEADER = "# AI Alignment Daily Digest - {day}"
THEMES = "## Key Themes and Developments"
CONNECTIONS = "### Connections and Broader Implications"
INDIVIDUAL = "## Individual Post Summaries"
UPDATED = "## Updated Posts"
ALSO = "## Also Published"

_ESC = re.compile(r"([\\`*_\[\]<>|])")


CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def esc(text: str) -> str:
    """Escape Markdown syntax in store text (titles, names); defuse autolinks; drop control
    characters (an ANSI escape in a title must not reach a terminal that shows the digest)."""
    t = " ".join(CONTROL_CHARS.sub("", str(text)).split())
    t = _ESC.sub(r"\\\1", t)
    t = t.replace("://", r":\/\/")
    if t.startswith(("#", "-", "+", ">", "=")):
        t = "\\" + t
    return t


def unesc(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def link(title: str, url: str) -> str:
    return f"[{esc(title)}]({url})"


def _byline(authors: list[str], sep: str = " ") -> str:
    if not authors:
        return ""
    names = ", ".join(authors[:3]) + (" et al." if len(authors) > 3 else "")
    return f"{sep}by {esc(names)}"


def _model_line(model_id: str) -> str:
    name, _, digest = model_id.partition("@")
    return f"{name} (digest {digest})" if digest else name


def _muted_line(data: dict[str, Any]) -> list[str]:
    """How many posts the reader's killfile ([digest] mute_*) left out, when any."""
    n = int(data.get("muted") or 0)
    return [f"{n} post{'s' if n != 1 else ''} muted by your settings.", ""] if n else []


def render(data: dict[str, Any]) -> str:
    posts = {p["n"]: p for p in data["posts"]}
    out = [HEADER.format(day=data["date"]), "", *_muted_line(data), THEMES, ""]
    themes = data.get("themes") or []
    waiting = sum(1 for p in data["posts"] if p["status"] != "ok")
    if not themes and waiting:
        out += [f"No themes yet: {waiting} of the day's posts are still waiting for a summary "
                "(pending; `kb daily` retries them).", ""]
    elif not themes:
        out += ["No posts about AI alignment were published on this day.", ""]
    for i, t in enumerate(themes, 1):
        out += [f"### {i}. {esc(t['name'])}", "", "**Key Posts:**", ""]
        for n in t["numbers"]:
            p = posts[n]
            out.append(f"- {link(p['title'], p['url'])}{_byline(p['authors'])} [{n}]")
        out += ["", "**Summary:**", ""]
        out += [f"- {b}" for b in t["summary"]]
        out.append("")
        if t.get("implications"):  # a theme none of whose posts states one says nothing
            out += ["**Broader Implications:**", "", t["implications"], ""]
        if t.get("continues"):
            c = t["continues"]
            out += [f"*Continuing thread:* this theme continues “{esc(c['name'])}” from the "
                    f"digest of {c['date']}.", ""]
    if themes:
        out += [CONNECTIONS, "", data.get("connections") or "—", ""]
    out += [INDIVIDUAL, ""]
    if not data["posts"]:
        out += ["No posts about AI alignment were published on this day.", ""]
    for p in data["posts"]:
        when = p.get("published_local") or ""
        out += [f"### {p['n']}. {esc(p['title'])}", "",
                f"Source: {esc(p['source'])}{_byline(p['authors'], ' · ')}" + (f" · {when}" if when else ""),
                "", f"Link: {p['url']}", ""]
        if p["status"] == "ok":
            fell_back = p.get("extractive") and (data.get("written_by") or {}).get("model")
            out += [f"Summary: {p['summary']}" + (
                " *(the post's own sentences: the model's summary failed; `kb daily` retries "
                "it)*" if fell_back else ""), ""]
            if p.get("implications"):
                out += [f"Implications: {p['implications']}", ""]
        else:
            opening = f" The post opens: “{esc(p['opening'])}”" if p.get("opening") else ""
            out += ["Summary: (pending: the model has not summarized this post yet; "
                    f"`kb daily` will retry.){opening}", ""]
    if data.get("updated"):
        out += [UPDATED, ""]
        for u in data["updated"]:
            out.append(f"- {link(u['title'], u['url'])} — {esc(u['source'])}, edited on this "
                       f"day (now version {u['version']})")
        out.append("")
    if data.get("also_published"):
        out += [ALSO, ""]
        for a in data["also_published"]:
            line = f"- {link(a['title'], a['url'])} — {esc(a['source'])}"
            if a.get("summary"):
                line += f": {a['summary']}"
            out.append(line)
        out.append("")
    wb = data.get("written_by")
    if wb and not wb.get("model"):
        by = "without a chat model"
    elif wb and wb.get("summaries") and not model_wrote(wb):
        by = (f"with the model {_who(data['model'])} configured, which wrote none of it (every "
              "part is the posts' own words)")
    else:
        by = f"with the model {esc(_model_line(data['model']))}"
    out += ["---", "",
            f"*Written by kb {by}; embeddings "
            f"{esc(data.get('embed_model') or '-')}; prompts {esc(data['prompt_version'])}; "
            f"times in {esc(data['timezone'])}. Titles and links come from the archive; "
            "[n] refers to the numbered post summaries.*", ""]
    if wb:
        out += [f"*{parts_line(wb)}*", ""]
    return "\n".join(out)


def _who(model_id: str) -> str:
    return esc(_model_line(model_id).split(" (digest")[0])


def model_wrote(wb: dict[str, Any]) -> bool:
    """Whether the chat model wrote any part of the digest (``written_by``)."""
    total, ext = wb.get("summaries", 0), wb.get("extractive_summaries", 0)
    return bool(wb.get("model")) and (total > ext or (wb.get("themes") or "extractive") !=
                                      "extractive" or (wb.get("connections") or "extractive")
                                      != "extractive")


def parts_line(wb: dict[str, Any]) -> str:
    """Which parts are extractive and which a model wrote (``written_by`` of the digest)."""
    own = "extractive (the posts' own sentences)"
    total, ext = wb.get("summaries", 0), wb.get("extractive_summaries", 0)
    if not wb.get("model") or (total and ext == total):
        summaries = own
    elif ext:
        summaries = f"{_who(wb['model'])}, {ext} of {total} extractive"
    else:
        summaries = _who(wb["model"])
    themes = wb.get("themes") or "extractive"
    if themes == "extractive":
        theme_part = "extractive (key phrases; the posts' key sentences)"
    else:
        n = wb.get("extractive_theme_sentences", 0)
        theme_part = f"{_who(themes)}, claim-checked" + (
            f"; {n} sentence{'s' if n != 1 else ''} extractive" if n else "")
    conn = wb.get("connections") or "extractive"
    conn_part = ("from the data (shared phrases, authors, links, threads)"
                 if conn == "extractive" else f"{_who(conn)}, claim-checked")
    return f"Summaries: {summaries} · Themes and implications: {theme_part} · Connections: {conn_part}"
