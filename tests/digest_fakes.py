"""Scripted fake models and post helpers shared by the digest/summary/daily tests."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from kb.models.base import LLMError, Message
from kb.models.fake import FakeLLM
from kb.store.posts import PostRecord, save_post


def data_of(messages: list[Message]) -> str:
    user = next(m.content for m in messages if m.role == "user")
    return user.split("<<<DATA", 1)[1].split("DATA>>>", 1)[0]


def kind_of(messages: list[Message]) -> str:
    system = messages[0].content
    for prefix, kind in (("You summarize", "summary"), ("You take notes", "part"),
                         ("You write one theme", "theme"), ("You write the closing", "connections")):
        if system.startswith(prefix):
            return kind
    return "other"


def good_summary(title: str, off_topic: bool) -> str:
    return json.dumps({
        "summary": (f"The post {title} reports a small study and what its author learned from "
                    "it. It explains the method in plain words. It ends with open questions "
                    "for other researchers."),
        "relevance": "off-topic" if off_topic else "core",
        "implications": "" if off_topic else f"It bears on how carefully {title} is studied.",
    })


def smart(*, off_topic: tuple[str, ...] = ("sourdough",), fail_titles: tuple[str, ...] = (),
          theme: Callable[[list[str]], str] | None = None,
          connections: str | None = None) -> Callable[[list[Message]], str]:
    """A responder that answers each prompt kind with valid JSON.  Theme texts cite one of the
    theme's posts and a post that does not exist ([42]); connections cite [77]."""

    def reply(messages: list[Message]) -> str:
        kind = kind_of(messages)
        data = data_of(messages)
        if kind == "summary":
            title = re.search(r"Title: (.*)", data).group(1).strip()  # type: ignore[union-attr]
            if any(f in title for f in fail_titles):
                raise LLMError(f"the model crashed on {title}")
            return good_summary(title, any(w in title.lower() for w in off_topic))
        if kind == "part":
            return json.dumps({"notes": "This part explains one step of the argument in detail."})
        if kind == "theme":
            nums = re.findall(r"^\[(\d+)\]", data, re.M)
            if theme is not None:
                return theme(nums)
            return json.dumps({
                "name": f"Research thread around post {nums[0]}",
                "summary": [f"These posts share a method and a worry [{nums[0]}].",
                            "They also cite a post that is not there [42]."],
                "implications": f"Together they matter for oversight [{', '.join(nums)}].",
            })
        if kind == "connections":
            return json.dumps({"connections": connections or (
                "The themes connect through shared worries about evaluation [1], and one "
                "sentence cites a post that does not exist [77].")})
        return "ok"

    return reply


def fake_llm(**kw: Any) -> FakeLLM:
    return FakeLLM(smart(**kw))


LW = "https://www.lesswrong.com/posts/{id}/{slug}"
AF = "https://www.alignmentforum.org/posts/{id}/{slug}"


def add_post(store: Any, pid: str, title: str, published: str, *, text: str | None = None,
             af: bool = False, crosspost: bool = False, authors: list[str] | None = None) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40]
    body = text if text is not None else (
        f"{title}. This is an original test post written for kb's test suite. It describes a "
        "small experiment, the method used, the results and several open questions that the "
        "author would like other researchers to look at in future work.")
    urls = [(AF if af else LW).format(id=pid, slug=slug)]
    if crosspost:
        urls.append(LW.format(id=pid, slug=slug))
    rec = PostRecord(title=title, text=body, urls=urls, authors=authors or ["A. Writer"],
                     published=published, lw_id=pid, is_af=af, origin=urls[0])
    save_post(store, rec)
    if crosspost:  # the same post seen again from the other site's feed
        save_post(store, PostRecord(title=title, text=body, urls=[urls[1]], authors=["A. Writer"],
                                    published=published, lw_id=pid, origin=urls[1]))
    return pid


def pid(n: int) -> str:
    return f"kbTestPost{n:07d}"
