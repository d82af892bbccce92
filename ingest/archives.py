"""Local archives for `kb import PATH...`.

Supported files (directories are walked):

* Markdown (``.md``, ``.markdown``) with YAML front matter — ``title``, ``authors`` /
  ``author``, ``date_published`` / ``date`` (Jekyll's ``2025-06-14 18:00 -0700`` too),
  ``date_updated``, ``original_url`` / ``canonical_url`` (a copy of that post), ``url``.
  Without front matter the first heading is the title and a ``created: …, modified: …``
  header line gives the dates.
* JSON: a LessWrong/AF GraphQL post (``htmlBody``, ``contents.markdown`` or
  ``contents.html``; ``{"data": {"post": {"result": …}}}`` and ``{"data": {"posts":
  {"results": […]}}}`` wrappers), lists of such posts (the aisafetyconnect dataset, whose
  authors come from a ``users*.json`` beside the posts), Substack archive JSON, and dumps
  of feed items (``{"posts": [{title, url, author, content, published_date}]}``).
* RSS/Atom files (``.xml``, ``.rss``, ``.atom``) and saved HTML pages (``.html``).

A file that cannot be read is reported with its path; the others go on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest import lw
from ingest.text import html_to_markdown, iso_utc, tidy
from kb.ids import is_af_url, is_lw_id, lw_post_id, lw_urls
from kb.store.posts import PostRecord

MD_SUFFIXES = (".md", ".markdown")
SUFFIXES = (*MD_SUFFIXES, ".json", ".xml", ".rss", ".atom", ".html", ".htm")
GRAPHQL_ORIGIN = "lesswrong graphql"
_JEKYLL_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}-")


class ArchiveError(ValueError):
    """A file could not be imported; the message names it."""


@dataclass
class FileResult:
    path: Path
    records: list[PostRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def walk(paths: list[Path]) -> Iterator[Path]:
    """Every importable file under ``paths`` (sorted; hidden files and dirs skipped)."""
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                if f.is_file() and f.suffix.lower() in SUFFIXES and not any(
                        part.startswith(".") for part in rel) and not _is_side_file(f):
                    yield f
        else:
            yield p


def _is_side_file(f: Path) -> bool:
    """Metadata files of a dataset (users lists, summaries) are read on demand, not imported."""
    name = f.name.lower()
    return f.suffix.lower() == ".json" and (name.startswith("users") or "summary" in name)


def read_file(path: Path, *, max_bytes: int) -> FileResult:
    res = FileResult(path=path)
    try:
        if not path.exists():
            raise ArchiveError(f"{path}: no such file or directory")
        size = path.stat().st_size
        if size > max_bytes:
            raise ArchiveError(f"{path}: {size} bytes is over the {max_bytes}-byte limit "
                               "(settings ingest.max_bytes)")
        suffix = path.suffix.lower()
        data = path.read_bytes()
        if suffix in MD_SUFFIXES:
            res.records.append(markdown_record(data.decode("utf-8", errors="replace"), path))
        elif suffix == ".json":
            res.records, res.notes = json_records(data, path)
        elif suffix in (".html", ".htm"):
            from ingest.pages import extract_page

            rec, res.notes = extract_page(data, url=path.resolve().as_uri(),
                                          content_type="text/html")
            res.records.append(rec)
        elif suffix in (".xml", ".rss", ".atom"):
            from ingest.feeds import parse_feed

            parsed = parse_feed(data, url=path.resolve().as_uri())
            res.records, res.notes = parsed.records, parsed.notes
        else:
            raise ArchiveError(f"{path}: not a format kb can import (Markdown, JSON, RSS/Atom, "
                               "HTML)")
    except (ArchiveError, ValueError) as exc:
        msg = str(exc)
        res.error = msg if str(path) in msg else f"{path}: {msg}"
    except OSError as exc:
        res.error = f"{path}: cannot read: {exc.strerror or exc}"
    return res


# --- Markdown --------------------------------------------------------------------------
def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    text = text.lstrip("\ufeff")
    if not text.startswith("---"):
        return {}, text
    m = re.match(r"^---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|$)", text, re.S)
    if not m:
        return {}, text
    import yaml

    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ArchiveError(f"{path}: front matter is not valid YAML: "
                           f"{str(exc).splitlines()[0]}") from None
    if not isinstance(meta, dict):
        raise ArchiveError(f"{path}: front matter is not a YAML mapping")
    return meta, text[m.end():]


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in value.split(";") if p.strip()]
    if isinstance(value, dict):
        return _names(value.get("displayName") or value.get("name") or value.get("username"))
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    return [str(value)]


def markdown_record(text: str, path: Path) -> PostRecord:
    from ingest.pages import header_dates, markdown_title

    meta, body = split_front_matter(text, path)
    body = tidy(body)
    created, modified = header_dates(body)
    title = str(meta.get("title") or "").strip() or markdown_title(body) or \
        _JEKYLL_NAME.sub("", path.stem).replace("-", " ")
    published = iso_utc(meta.get("date_published") or meta.get("date") or
                        meta.get("published")) or created
    updated = iso_utc(meta.get("date_updated") or meta.get("updated") or
                      meta.get("last_modified") or meta.get("modified")) or modified
    original = meta.get("original_url") or meta.get("canonical_url") or meta.get("canonical")
    url = meta.get("url")
    urls = [path.resolve().as_uri()]
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        urls.insert(0, url)
    rec = PostRecord(title=title, text=body, urls=urls,
                     authors=_names(meta.get("authors") or meta.get("author")),
                     published=published, modified=updated if updated != published else None,
                     origin=urls[-1])
    if isinstance(original, str) and original.startswith(("http://", "https://")):
        rec.original_url = original.strip()
    return rec


# --- JSON ------------------------------------------------------------------------------
def json_records(data: bytes, path: Path) -> tuple[list[PostRecord], list[str]]:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"{path}: not valid JSON: {exc}") from None
    items = _post_dicts(doc)
    if items is None:
        raise ArchiveError(f"{path}: JSON holds no posts kb recognises (expected a LessWrong "
                           "GraphQL post, a list of posts, or a feed-item dump)")
    users = _users_beside(path)
    file_user = re.match(r"^user_([A-Za-z0-9]+)_posts$", path.stem)
    default_author = users.get(file_user.group(1)) if file_user else None
    records, notes = [], []
    for i, item in enumerate(items):
        try:
            rec = post_record(item, default_author=default_author, users=users)
        except ArchiveError as exc:
            notes.append(f"{path}: entry {i}: {exc}")
            continue
        if rec is not None:
            records.append(rec)
    return records, notes


def _post_dicts(doc: Any) -> list[dict[str, Any]] | None:
    if isinstance(doc, list):
        return [d for d in doc if isinstance(d, dict)]
    if not isinstance(doc, dict):
        return None
    data = doc.get("data")
    if isinstance(data, dict):
        for key in ("post", "posts"):
            inner = data.get(key)
            if isinstance(inner, dict):
                if isinstance(inner.get("result"), dict):
                    return [inner["result"]]
                if isinstance(inner.get("results"), list):
                    return [d for d in inner["results"] if isinstance(d, dict)]
    for key in ("posts", "items", "results"):
        if isinstance(doc.get(key), list):
            return [d for d in doc[key] if isinstance(d, dict)]
    if isinstance(doc.get("result"), dict):
        return [doc["result"]]
    if "title" in doc and any(k in doc for k in ("_id", "pageUrl", "url", "canonical_url")):
        return [doc]
    return None


def _users_beside(path: Path) -> dict[str, str]:
    """userId -> display name from a ``users*.json`` next to the file or one level up."""
    out: dict[str, str] = {}
    for d in (path.parent, path.parent.parent):
        for f in sorted(d.glob("users*.json")):
            try:
                doc = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            rows = doc if isinstance(doc, list) else doc.get("users", []) if isinstance(doc, dict) else []
            for u in rows:
                if isinstance(u, dict):
                    uid = u.get("userId") or u.get("_id")
                    name = u.get("displayName") or u.get("username")
                    if uid and name:
                        out.setdefault(str(uid), str(name))
    return out


def _str(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return None if s.lower() in ("", "none", "null") else s


def post_record(item: dict[str, Any], *, default_author: str | None = None,
                users: dict[str, str] | None = None) -> PostRecord | None:
    """One post dict (GraphQL, Substack, feed-item dump) as a PostRecord."""
    title = _str(item.get("title")) or ""
    pid = _str(item.get("_id"))
    slug = _str(item.get("slug"))
    page_url = _str(item.get("pageUrl")) or _str(item.get("canonical_url")) or _str(
        item.get("link"))
    if page_url is None and pid is None:
        page_url = _str(item.get("url"))  # for LW posts `url` is a linkpost's target instead
    af = str(item.get("af")).lower() == "true"
    if page_url is None and pid:
        lw_url, af_url = lw_urls(pid, slug, af=af)
        page_url = lw_url
    if page_url is None:
        raise ArchiveError(f"{title or 'post'!r} has no URL or id")
    lw_id = pid if is_lw_id(pid) else lw_post_id(page_url)

    contents = item.get("contents") if isinstance(item.get("contents"), dict) else {}
    markdown = _str(contents.get("markdown")) if contents else None
    html = _str(item.get("htmlBody")) or (_str(contents.get("html")) if contents else None) or \
        _str(item.get("body_html"))
    plain = item.get("content") if isinstance(item.get("content"), str) else None
    origin = GRAPHQL_ORIGIN
    published = iso_utc(item.get("postedAt") or item.get("post_date") or
                        item.get("date_published") or item.get("published"))
    if markdown is not None:
        text = tidy(markdown)
    elif html is not None:
        text = html_to_markdown(html, page_url)
    elif plain is not None:  # a feed item saved as text (e.g. converted with html2text)
        body, posted = lw.strip_wrapper(plain) if lw_id else (plain, None)
        text, origin = tidy(body), "feed item dump"
        published = posted or published or iso_utc(item.get("published_date"))
    elif isinstance(item.get("contents"), dict):  # present but empty: a question or link post
        linked = _str(item.get("url")) if pid else None
        text = f"Link post: <{linked}>" if linked else ""
    elif "contents" in item or "htmlBody" in item or "body_html" in item:
        raise ArchiveError(f"post {pid or page_url} {title!r} has no contents (null); skipped")
    else:
        raise ArchiveError(f"post {pid or page_url} {title!r} has no text; skipped")

    authors = _names(item.get("user")) + _names(item.get("coauthors")) + \
        _names(item.get("publishedBylines")) + _names(item.get("authors")) + \
        _names(item.get("author"))
    if not authors and users and item.get("userId"):
        authors = _names(users.get(str(item["userId"])))
    if not authors and default_author:
        authors = [default_author]
    rec = PostRecord(title=title or page_url, text=text, urls=[page_url],
                     authors=list(dict.fromkeys(authors)), published=published,
                     lw_id=lw_id, is_af=af or is_af_url(page_url), origin=origin,
                     modified=iso_utc(item.get("modifiedAt") or item.get("date_updated")))
    if lw_id and af and not is_af_url(page_url):
        rec.urls.append(lw_urls(lw_id, slug, af=True)[1] or page_url)
    if isinstance(item.get("tags"), list):  # forum tags (for the killfile's mute_tags)
        rec.tags = [n for t in item["tags"]
                    if (n := _str(t.get("name") if isinstance(t, dict) else t))]
    return rec
