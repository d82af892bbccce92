"""Search: results update as you type (debounced), with date/author/source filters.

Retrieval runs in a thread worker (it may load the embedder and the vector index); only the
newest query's results are shown.  Hybrid search falls back to keyword search, with a note,
when the vector side cannot run (no index yet, no embedding model)."""

from __future__ import annotations

import re

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, OptionList, Select, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from kb.search_types import Filters, Mode, SearchHit
from tui import data
from tui.data import Marks
from tui.marks import marks
from tui.safe import clean, one_line
from tui.screens.base import KbScreen

DEBOUNCE = 0.3  # seconds of quiet typing before a search runs
HEADING = re.compile(r"(?m)^#{1,6}\s+")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MODES: list[tuple[str, Mode]] = [("hybrid", "hybrid"), ("keyword", "keyword"),
                                 ("vector", "vector")]
MODE_OF: dict[str, Mode] = {mode: mode for _, mode in MODES}


def hit_prompt(hit: SearchHit, state: Marks | None = None, width: int = 96) -> Text:
    """Reading marks and title, then date/authors/site, then the passage: all literal text."""
    out = marks(hit.post_id, state) if state is not None else Text()
    out.append(one_line(hit.title), style="bold")
    meta = [(hit.published or "undated")[:10], ", ".join(hit.authors[:3]), hit.site]
    out.append("\n" + one_line(" · ".join(m for m in meta if m)), style="dim")
    passage = one_line(HEADING.sub(" ", hit.text))
    if len(passage) > width * 2:
        passage = passage[: width * 2 - 1] + "…"
    out.append("\n" + passage)
    return out


class SearchScreen(KbScreen):
    TITLE_TEXT = "Search"
    HELP = (
        "Type to search the archive; results update as you type. Narrow them with the "
        "filters: **since** / **until** (YYYY-MM-DD, by posting date), **author** (part of a "
        "name), **source** (a source name or a site host) and the **mode** (hybrid = keywords "
        "+ meaning, keyword, vector).\n\n"
        "`Enter` in the query box (or `Down`) moves to the results; `Enter` on a result opens "
        "the post scrolled to the matching passage, highlighted. `/` returns to the query.\n\n"
        "In the results, `●` marks a post you have not opened yet and `★` a saved one; `s` "
        "saves (or unsaves) the post under the cursor and `c` copies its passage."
    )
    BINDINGS = [
        Binding("slash", "focus_query", "Query", key_display="/"),
        Binding("escape", "focus_query", "Query", show=False),
        Binding("f", "focus_filters", "Filters"),
        Binding("down", "focus_results", "Results", show=False),
        Binding("s", "save", "Save/unsave"),
        Binding("c", "copy", "Copy passage"),
    ]

    class Results(Message):
        def __init__(self, serial: int, hits: list[SearchHit], note: str) -> None:
            super().__init__()
            self.serial, self.hits, self.note = serial, hits, note

    def __init__(self) -> None:
        super().__init__()
        self.serial = 0
        self.hits: list[SearchHit] = []
        self._timer: Timer | None = None
        self._last_key: tuple[str, ...] = ()
        self._focus_results_when_ready = False
        self.shown_serial = 0  # the query whose results are on screen

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="Search the archive…", id="search-box")
        with Horizontal(id="filters"):
            yield Input(placeholder="since YYYY-MM-DD", id="since")
            yield Input(placeholder="until YYYY-MM-DD", id="until")
            yield Input(placeholder="author", id="author")
            yield Input(placeholder="source or site", id="source")
            yield Select(MODES, value=self.kb_app.search_mode, allow_blank=False, id="mode")
        yield Static("Type to search.", id="search-status")
        yield OptionList(id="results")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Search"
        self.query_one("#search-box", Input).focus()
        self._last_key = self._key()

    def _key(self) -> tuple[str, ...]:
        """What the current search depends on: nothing runs when it did not change."""
        values = [self.query_one(f"#{k}", Input).value.strip()
                  for k in ("search-box", "since", "until", "author", "source")]
        return (*values, str(self.query_one("#mode", Select).value))

    # --- input -> debounced search ----------------------------------------------------------
    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, self.run_search)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
            self.run_search()
            self._focus_results_when_ready = True
            return
        self.action_focus_results()

    def filters(self) -> Filters | str:
        """The filters, or an error message naming the bad field."""
        values = {k: self.query_one(f"#{k}", Input).value.strip()
                  for k in ("since", "until", "author", "source")}
        for key in ("since", "until"):
            if values[key] and not DATE.match(values[key]):
                return f"{key}: {values[key]!r} is not a date (YYYY-MM-DD)"
        return Filters(since=values["since"] or None, until=values["until"] or None,
                       author=values["author"] or None, source=values["source"] or None)

    def run_search(self) -> None:
        self._timer = None
        key = self._key()
        if key == self._last_key:
            return
        self._last_key = key
        query = self.query_one("#search-box", Input).value.strip()
        filters = self.filters()
        status = self.query_one("#search-status", Static)
        self.serial += 1
        if isinstance(filters, str):
            status.update(Text(filters, style="red"))
            return
        if not query:
            self._show(self.serial, [], "Type to search.")
            return
        mode = MODE_OF.get(str(self.query_one("#mode", Select).value), "hybrid")
        status.update(Text(f"searching for {one_line(query)!r}…"))
        self._search(self.serial, query, filters, mode)

    @work(thread=True, exclusive=True, group="search")
    def _search(self, serial: int, query: str, filters: Filters, mode: Mode) -> None:
        from kb.retrieval import search

        rt = self.runtime
        note = ""
        hits: list[SearchHit] = []
        try:
            if mode == "keyword":
                hits = search(rt.store, None, None, query, k=30, mode=mode, filters=filters)
            else:  # the embedder and the vector index are built or opened on first use
                hits = search(rt.store, rt.embedder, rt.index, query, k=30, mode=mode,
                              filters=filters)
        except Exception as exc:  # whatever failed, keywords may still work
            if mode == "keyword":
                note = f"search failed: {one_line(exc)}"
            else:
                note = f"{mode} search unavailable ({one_line(exc)}); showing keyword results"
                try:
                    hits = search(rt.store, None, None, query, k=30, mode="keyword",
                                  filters=filters)
                except Exception as exc2:
                    note = f"search failed: {one_line(exc2)}"
        if not get_current_worker().is_cancelled:
            self.post_message(self.Results(serial, hits, note))

    @on(Results)
    def _results(self, message: Results) -> None:
        if message.serial == self.serial:  # an older query's results are dropped
            self._show(message.serial, message.hits, message.note)

    def _show(self, serial: int, hits: list[SearchHit], note: str) -> None:
        self.hits = hits
        self.shown_serial = serial
        results = self.query_one("#results", OptionList)
        results.clear_options()
        state = data.marks_for(self.runtime.store, [h.post_id for h in hits])
        results.add_options([Option(hit_prompt(h, state), id=str(i))
                             for i, h in enumerate(hits)])
        status = Text(note or (f"{len(hits)} results" if hits or serial == 0 else ""),
                      style="yellow" if note else "")
        query = self.query_one("#search-box", Input).value.strip()
        if not hits and query and not note:
            status = Text("No results. Try fewer words, another mode, or wider filters.")
        self.query_one("#search-status", Static).update(status)
        if self._focus_results_when_ready and hits:
            self._focus_results_when_ready = False
            self.action_focus_results()

    @on(OptionList.OptionSelected, "#results")
    def _open(self, event: OptionList.OptionSelected) -> None:
        hit = self.hits[int(event.option.id or 0)]
        self.kb_app.open_post(hit.post_id, version=hit.version or None, start=hit.start,
                              end=hit.end)

    def action_focus_query(self) -> None:
        self.query_one("#search-box", Input).focus()

    def action_focus_results(self) -> None:
        results = self.query_one("#results", OptionList)
        if results.option_count:
            results.highlighted = results.highlighted or 0
            results.focus()

    def action_focus_filters(self) -> None:
        self.query_one("#since", Input).focus()

    # --- reading state, copying -------------------------------------------------------------
    def on_screen_resume(self) -> None:
        self._remark()  # posts opened from here are read now

    def _remark(self) -> None:
        """Redraw the results' reading marks (the cursor stays where it is)."""
        if not self.hits:
            return
        results = self.query_one("#results", OptionList)
        state = data.marks_for(self.runtime.store, [h.post_id for h in self.hits])
        for i, hit in enumerate(self.hits):
            results.replace_option_prompt_at_index(i, hit_prompt(hit, state))

    def _hit_under_cursor(self) -> SearchHit | None:
        results = self.query_one("#results", OptionList)
        if not results.has_focus or results.highlighted is None:
            return None
        index = int(results.get_option_at_index(results.highlighted).id or 0)
        return self.hits[index] if index < len(self.hits) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("save", "copy"):
            return self._hit_under_cursor() is not None
        return True

    def action_save(self) -> None:
        hit = self._hit_under_cursor()
        if hit is not None and self.toggle_saved(hit.post_id) is not None:
            self._remark()

    def action_copy(self) -> None:
        hit = self._hit_under_cursor()
        if hit is not None:
            self.copy(clean(hit.text).strip(), f"the passage of {one_line(hit.title)[:60]!r}")
