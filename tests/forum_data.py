"""What the ForumMagnum-compatible test server serves: its schema and its posts.

:data:`SDL` is a subset of ForumMagnum's generated GraphQL schema
(``packages/lesswrong/lib/generated/gqlSchema.gql``: ``Post``, ``Revision``, ``User``, ``Tag``,
``PostSelector`` and the view inputs, ``MultiPostInput``/``MultiPostOutput`` and the ``posts``
query), written out here with the real type, field and argument names.
:func:`dataset_posts` builds ``Post`` objects from the aisafetyconnect LessWrong dataset in
../shared/corpus at test time (the data is never copied into the repo).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DATASET = "datasets/lw-top20-users-posts_aisafetyconnect_2025-09-27"

_VIEW_FIELDS = """
  postIds: [String!]
  notPostIds: [String!]
  groupId: String
  af: Boolean
  question: Boolean
  authorIsUnreviewed: Boolean
  exactPostIds: [String!]
  hideCommunity: Boolean
  karmaThreshold: Int
  excludeEvents: Boolean
  userId: String
  includeRelatedQuestions: String
  filter: String
  view: String
  filterSettings: JSON
  sortedBy: String
  after: String
  before: String
  timeField: String
  curatedAfter: String
"""

SDL = f"""
scalar JSON
scalar Date

type User {{
  _id: String!
  slug: String!
  username: String
  displayName: String!
}}

type Tag {{
  _id: String!
  name: String!
  slug: String!
}}

type Revision {{
  _id: String!
  html: String
  markdown: String
  wordCount: Float!
  plaintextDescription: String!
}}

enum PostCategory {{
  post
  linkpost
  question
}}

type Post {{
  _id: String!
  contents(version: String): Revision
  slug: String!
  postedAt: Date!
  modifiedAt: Date
  url: String
  postCategory: PostCategory!
  title: String!
  userId: String
  user: User
  pageUrl: String!
  pageUrlRelative: String
  question: Boolean!
  wordCount: Int
  htmlBody: String
  tags: [Tag!]!
  draft: Boolean
  coauthors: [User!]
  af: Boolean!
  voteCount: Float!
  baseScore: Float!
  score: Float!
}}

input PostDefaultViewInput {{{_VIEW_FIELDS}}}
input PostsNewInput {{{_VIEW_FIELDS}  meta: Boolean
  forum: Boolean
}}
input PostsOldInput {{{_VIEW_FIELDS}}}
input PostsTopInput {{{_VIEW_FIELDS}  meta: Boolean
  forum: Boolean
}}

input PostSelector {{
  default: PostDefaultViewInput
  new: PostsNewInput
  old: PostsOldInput
  top: PostsTopInput
}}

input MultiPostInput {{
  terms: JSON
  resolverArgs: JSON
  enableTotal: Boolean
  enableCache: Boolean
}}

type MultiPostOutput {{
  results: [Post!]!
  totalCount: Int
}}

type Query {{
  posts(input: MultiPostInput @deprecated(reason: "Use the selector field instead"), selector: PostSelector, limit: Int, offset: Int, enableTotal: Boolean): MultiPostOutput
}}
"""

SORTS: dict[str, tuple[str, bool]] = {"new": ("postedAt", True), "default": ("postedAt", True),
                                      "old": ("postedAt", False), "top": ("baseScore", True)}


def parse_js_date(value: str) -> datetime:
    """``moment(value)`` for the ISO strings kb and ForumMagnum use."""
    dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def dataset_posts(corpus: Path, *, site: str = "https://www.lesswrong.com") -> list[dict[str, Any]]:
    """The dataset's posts in the shape of ForumMagnum's ``Post`` (one per ``_id``; the users
    of the other files listing it become its coauthors)."""
    root = corpus / DATASET
    users = {u["_id"]: u for u in json.loads((root / "users_top20.json").read_text("utf-8"))}
    out: dict[str, dict[str, Any]] = {}
    for f in sorted((root / "posts").glob("user_*_posts.json")):
        uid = f.name.removeprefix("user_").removesuffix("_posts.json")
        u = users.get(uid, {"_id": uid, "displayName": uid, "slug": uid.lower()})
        author = {"_id": u["_id"], "displayName": u.get("displayName") or u.get("username"),
                  "username": u.get("username"), "slug": u.get("slug") or uid.lower()}
        for p in json.loads(f.read_text("utf-8")):
            pid = p["_id"]
            if pid in out:
                if out[pid]["user"]["_id"] != author["_id"]:
                    out[pid]["coauthors"].append(author)
                continue
            contents = p.get("contents") if isinstance(p.get("contents"), dict) else None
            raw_url = p.get("url")
            url = raw_url if isinstance(raw_url, str) and raw_url.startswith("http") else None
            slug = p.get("slug") or "post"
            out[pid] = {
                "_id": pid, "title": p.get("title") or pid, "slug": slug,
                "pageUrl": f"{site}/posts/{pid}/{slug}", "pageUrlRelative": f"/posts/{pid}/{slug}",
                "postedAt": p["postedAt"], "modifiedAt": p["postedAt"], "url": url,
                "postCategory": "linkpost" if url else "post", "question": False,
                "af": p.get("af") is True, "baseScore": float(p.get("baseScore") or 0),
                "voteCount": float(p.get("voteCount") or 0), "score": 0.0,
                "userId": author["_id"], "user": author, "coauthors": [],
                "tags": [{"_id": t.get("_id", ""), "name": t.get("name", ""),
                          "slug": t.get("slug", "")} for t in p.get("tags") or []
                         if isinstance(t, dict)],
                "draft": False, "htmlBody": None,
                "contents": None if contents is None else {
                    "_id": f"rev-{pid}", "markdown": contents.get("markdown"), "html": None,
                    "wordCount": float(contents.get("wordCount") or 0),
                    "plaintextDescription": contents.get("plaintextDescription") or ""},
            }
    return sorted(out.values(), key=lambda d: d["postedAt"])
