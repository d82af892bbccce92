"""Canonical identity of posts: URL normalization, LessWrong/AF post ids, stable ids.

A LessWrong post crossposted to the Alignment Forum is one post with two URLs.  Its id is
the 17-character LW/AF post id; its canonical URL is the alignmentforum.org one for AF
posts, else the lesswrong.com one.  Other posts get a stable id from their normalized URL.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

LW_HOSTS = {"lesswrong.com", "www.lesswrong.com", "greaterwrong.com", "www.greaterwrong.com",
            "lw2.issarice.com"}
AF_HOSTS = {"alignmentforum.org", "www.alignmentforum.org"}
LW_CANONICAL = "https://www.lesswrong.com"
AF_CANONICAL = "https://www.alignmentforum.org"

# LW/AF ids are 17 alphanumeric characters (Meteor ids); posts imported from LessWrong 1.0
# keep 24-hex-digit ids (e.g. 5bd75cc58225bf0670374f08).
_ID = r"(?:[A-Za-z0-9]{17}|[0-9a-f]{24})"
LW_ID_RE = re.compile(rf"^{_ID}$")
_LW_PATH_RE = re.compile(rf"^/(?:posts|s/[^/]+/p)/({_ID})(?=$|/)(?:/([^/?#]*))?")
_TRACKING = re.compile(r"^(utm_|fbclid$|gclid$|mc_|ref$|source$)")
_SCHEME_RE = re.compile(r"https?://", re.I)


def is_lw_id(value: str | None) -> bool:
    return bool(value) and bool(LW_ID_RE.match(value or ""))


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_lw_or_af(url: str) -> bool:
    h = host_of(url)
    return h in LW_HOSTS or h in AF_HOSTS


def is_af_url(url: str) -> bool:
    return host_of(url) in AF_HOSTS


def fix_doubled_url(url: str) -> str:
    """Repair a URL with a second absolute URL glued on, e.g.
    ``https://www.alignmentforum.org/https://www.alignmentforum.org/posts/x`` -> the inner one."""
    url = url.strip()
    starts = [m.start() for m in _SCHEME_RE.finditer(url)]
    if len(starts) > 1:
        return url[starts[-1]:]
    return url


def join_url(base: str | None, href: str) -> str:
    """Resolve ``href`` against ``base`` — but never glue an absolute URL onto a base."""
    href = fix_doubled_url(href.strip())
    if _SCHEME_RE.match(href) or not base:
        return href
    if href.startswith("//"):
        return "https:" + href
    return urljoin(base, href)


def normalize_url(url: str) -> str:
    """Normalized form used as the key of ``post_urls``: https, lower-case host without
    default port, no fragment, no tracking query parameters, no trailing slash.
    LW/AF post URLs are reduced to ``/posts/<id>/<slug>`` on the canonical host."""
    url = fix_doubled_url(url)
    parts = urlsplit(url)
    scheme = (parts.scheme or "https").lower()
    if scheme == "http":
        scheme = "https"
    host = (parts.hostname or "").lower()
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = parts.path or "/"
    if host in LW_HOSTS or host in AF_HOSTS:
        m = _LW_PATH_RE.match(path)
        if m:
            base = AF_CANONICAL if host in AF_HOSTS else LW_CANONICAL
            slug = f"/{m.group(2)}" if m.group(2) else ""
            return f"{base}/posts/{m.group(1)}{slug}"
        host = "www.alignmentforum.org" if host in AF_HOSTS else host
        if host == "lesswrong.com":
            host = "www.lesswrong.com"
    if scheme in ("file",):
        return urlunsplit((scheme, parts.netloc, parts.path, "", ""))
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if not _TRACKING.match(k.lower())])
    if len(path) > 1:
        path = path.rstrip("/")
    return urlunsplit((scheme, host, path, query, ""))


def lw_post_id(url: str) -> str | None:
    """The 17-character post id of a LessWrong/AF/GreaterWrong post URL, else None."""
    url = fix_doubled_url(url)
    if not is_lw_or_af(url):
        return None
    m = _LW_PATH_RE.match(urlsplit(url).path)
    return m.group(1) if m else None


def lw_urls(post_id: str, slug: str | None, *, af: bool) -> tuple[str, str | None]:
    """(lesswrong URL, alignmentforum URL or None) for a LW/AF post id."""
    tail = f"/posts/{post_id}" + (f"/{slug}" if slug else "")
    return LW_CANONICAL + tail, (AF_CANONICAL + tail if af else None)


def url_post_id(url: str) -> str:
    """Stable id for a non-LW post: ``u`` + 16 hex chars of sha256(normalized URL)."""
    return "u" + hashlib.sha256(normalize_url(url).encode()).hexdigest()[:16]


def content_hash(text: str) -> str:
    """Hash of a version's text, insensitive to trailing white space and line endings."""
    norm = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n"))
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()
