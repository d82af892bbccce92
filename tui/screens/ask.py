"""Ask: a question, the answer streamed in place, its sources; follow-ups continue.

The model runs in a thread worker; each piece of text is posted back and shown as plain
text (a draft: links the model writes are stripped and nothing is clickable).  When the
answer is checked, the draft is replaced by the checked answer as Markdown — every link
already removed, and the widget opens none — and the Sources list shows the cited posts and
each sentence with its verdict; Enter on either opens the passage.  Esc sets a flag the token
callback checks, which stops the generation."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Input, Label, Markdown, OptionList, Static
from textual.widgets.option_list import Option

from digest.conversations import Exchange, get_exchange
from digest.links import StreamFilter, strip_links
from tui import ask_sources, data
from tui.ask_sources import Target
from tui.safe import clean, join, one_line
from tui.screens.base import KbScreen

if TYPE_CHECKING:
    from digest.ask import Answer

INTRO = ("Ask a question about the archive. Answers cite the posts they use as `[n]`; pick a "
         "source on the right to read the cited passage. Follow-up questions continue the "
         "conversation (`Ctrl+N` starts a new one); `Esc` stops an answer being written; `Ctrl+R` "
         "reopens a question asked before.")


def no_link_parser() -> MarkdownIt:
    """Markdown without any way to make a link (inline, reference, image, autolink, bare-URL
    linkify, raw HTML): the answer's text is shown, nothing in it is clickable."""
    return MarkdownIt("gfm-like").disable(
        ["linkify", "link", "image", "autolink", "reference", "html_inline", "html_block"],
        True)


class Cancelled(Exception):
    """Raised inside the model's token callback to stop generation."""


class AskScreen(KbScreen):
    TITLE_TEXT = "Ask"
    HELP = (
        "Type a question and press `Enter`. kb retrieves passages from the archive, and the "
        "model's draft appears as it is written; then every sentence is checked against the "
        "passages and the checked answer replaces the draft (sentences no passage supports "
        "are dropped, links the model wrote are removed). The **Sources** list shows each "
        "cited post (✓ = supported by the passage, ? = weakly) and, under **Sentences**, "
        "each sentence's verdict (✓ supported, ? weak, ✗ contradicted, – dropped, "
        "+ citation added by the check); `Enter` on one opens the post scrolled to the "
        "passage, highlighted. When the archive does not answer, kb says so and lists the "
        "nearest posts instead.\n\nAsk again to follow up: the conversation continues. `Ctrl+N` starts "
        "a new conversation; `Esc` stops generation; `Tab` moves between the question and the "
        "sources.\n\n"
        "`Ctrl+R` lists the questions asked before (here or with `kb ask`): `Enter` on one "
        "reopens its stored answer and cited sources, without calling a model.\n\n"
        "In the Sources list `●` marks a post you have not opened yet and `★` a saved one; "
        "`c` copies the citation under the cursor and `s` saves (or unsaves) its post."
    )
    BINDINGS = [
        Binding("escape", "cancel", "Stop answer"),
        Binding("ctrl+n", "new_conversation", "New conversation"),
        Binding("ctrl+o", "focus_sources", "Sources list"),
        Binding("ctrl+r", "history", "Past questions"),
        Binding("c", "copy", "Copy citation"),
        Binding("s", "save", "Save/unsave"),
    ]

    class Token(Message):
        def __init__(self, serial: int, text: str) -> None:
            super().__init__()
            self.serial, self.text = serial, text

    class Finished(Message):
        def __init__(self, serial: int, answer: Answer | None = None, error: str = "",
                     cancelled: bool = False) -> None:
            super().__init__()
            self.serial, self.answer, self.error, self.cancelled = serial, answer, error, cancelled

    class Notice(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self) -> None:
        super().__init__()
        self.serial = 0
        self.turns = 0  # completed exchanges in this conversation
        self.generating = False
        self._cancel = threading.Event()
        self._draft: Static | None = None
        self._links = StreamFilter()
        self._streamed: list[str] = []
        self.targets: list[Target] = []  # what each Sources option opens
        self.shown: Answer | Exchange | None = None  # whose sources are listed

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="ask-notice")
        with Horizontal(id="ask-main"):
            with VerticalScroll(id="conversation"):
                yield Markdown(INTRO, id="ask-intro")
            with Vertical(id="ask-sources-pane"):
                yield Label("Sources", classes="pane-title")
                yield OptionList(id="ask-sources")
        yield Static("", id="ask-status")
        yield Input(placeholder="Ask the archive a question…", id="question")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Ask"
        self.query_one("#question", Input).focus()
        self._probe_model()

    @work(thread=True, group="probe")
    def _probe_model(self) -> None:
        """The "quality is limited" notice when auto falls back to the built-in model, or why
        no model can answer; search keeps working either way."""
        try:
            notice = self.runtime.expected_llm_notice()
        except Exception as exc:
            notice = f"{one_line(exc)} Search still works (press s)."
        if notice:
            self.post_message(self.Notice(notice))

    @on(Notice)
    def _notice(self, message: Notice) -> None:
        widget = self.query_one("#ask-notice", Static)
        widget.update(Text(one_line(message.text)))
        widget.add_class("shown")

    # --- asking -----------------------------------------------------------------------------
    @on(Input.Submitted, "#question")
    async def _submitted(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        if not question:
            return
        if self.generating:
            self.notify("an answer is still being written (Esc stops it)", severity="warning")
            return
        event.input.value = ""
        await self.ask(question)

    async def ask(self, question: str) -> None:
        self.serial += 1
        self.generating = True
        self._cancel = threading.Event()  # one per request: stopping one never stops another
        self._streamed = []
        self._links = StreamFilter()
        conversation = self.query_one("#conversation", VerticalScroll)
        draft = Static(Text(""), classes="answer draft")
        await conversation.mount(Static(join("Q: ", (question, "")), classes="question"))
        await conversation.mount(draft)
        conversation.anchor()
        self._draft = draft
        self.query_one("#ask-status", Static).update(
            Text("retrieving and writing… (Esc stops)"))
        self._run(self.serial, question, self.turns > 0, self._cancel)

    @work(thread=True, group="ask")
    def _run(self, serial: int, question: str, follow_up: bool,
             cancel: threading.Event) -> None:
        from digest.ask import ask
        from kb.models.base import ModelUnavailable

        rt = self.runtime

        def on_token(piece: str) -> None:
            if cancel.is_set():
                raise Cancelled()
            self.post_message(self.Token(serial, piece))

        try:
            answer = ask(rt.store, rt.chat_llm()[0], rt.embedder, rt.index, question, k=8,
                         on_token=on_token, continue_=follow_up)
        except Cancelled:
            self.post_message(self.Finished(serial, cancelled=True))
        except Exception as exc:
            error = one_line(exc) or type(exc).__name__
            if isinstance(exc, ModelUnavailable):
                self.post_message(self.Notice(f"{error} Search still works (press s)."))
            self.post_message(self.Finished(serial, error=error))
        else:
            self.post_message(self.Finished(serial, answer))
        if rt.llm_loaded and (notice := rt.llm_notice):  # auto fell back to the built-in model
            self.post_message(self.Notice(notice))

    @on(Token)
    async def _token(self, message: Token) -> None:
        if message.serial == self.serial and self._draft is not None:
            piece = self._links.feed(clean(message.text))
            if piece:
                self._streamed.append(piece)
                self._draft.update(Text("".join(self._streamed)))  # plain: nothing clickable

    @on(Finished)
    async def _finished(self, message: Finished) -> None:
        if message.serial != self.serial:
            return
        try:
            await self._show_finished(message)
        finally:  # only once the answer and its sources are on screen
            self.generating = False

    async def _show_finished(self, message: Finished) -> None:
        draft, status = self._draft, self.query_one("#ask-status", Static)
        assert draft is not None
        self._streamed.append(self._links.flush())
        shown = Text("".join(self._streamed))
        if message.cancelled:
            draft.update(shown.append("\n(stopped: not a checked answer)", style="italic"))
            status.update(Text("stopped; ask again or press Ctrl+N for a new conversation"))
            return
        if message.error:
            if shown:
                shown.append("\n(not a checked answer)\n", style="italic")
            draft.update(shown.append(f"Could not answer: {one_line(message.error)}",
                                      style="bold red"))
            status.update(Text(message.error, style="red"))
            return
        answer = message.answer
        assert answer is not None
        final, _ = strip_links(clean(answer.answer))  # checked, and no link, ever
        answer_md = Markdown(final, classes="answer", parser_factory=no_link_parser,
                             open_links=False)
        await self.query_one("#conversation", VerticalScroll).mount(answer_md, after=draft)
        await draft.remove()
        self._draft = None
        self.turns += 1
        self._show_sources(answer)
        weak = sum(1 for c in answer.citations if not c.supported)
        dropped = sum(1 for s in answer.claims if not s.kept)
        status.update(Text(
            "the archive does not answer this; the nearest posts are listed" if answer.abstained
            else f"{len(answer.citations)} sources cited" + (f", {weak} weakly" if weak else "")
            + (f", {dropped} unsupported sentences dropped" if dropped else "")
            + " — ask a follow-up, or Ctrl+N for a new conversation"))

    def _show_sources(self, answer: Answer | Exchange, keep: bool = False) -> None:
        """The Sources list of an answer (or of a stored exchange: its citations); ``keep``
        leaves the cursor where it is (redrawing the reading marks)."""
        options = self.query_one("#ask-sources", OptionList)
        at = options.highlighted if keep else 0
        options.clear_options()
        self.targets = []
        self.shown = answer
        state = data.marks_for(self.runtime.store, ask_sources.post_ids(answer))
        for target, label in ask_sources.rows(answer, state):
            if target is None:
                options.add_option(Option(label, disabled=True))
            else:
                self.targets.append(target)
                options.add_option(Option(label, id=str(len(self.targets))))
        if self.targets:
            options.highlighted = min(at or 0, options.option_count - 1)

    @on(OptionList.OptionSelected, "#ask-sources")
    def _open(self, event: OptionList.OptionSelected) -> None:
        target = self.targets[int(event.option.id or 1) - 1]
        self.kb_app.open_post(target.post_id, version=target.version or None,
                              start=target.start, end=target.end)

    # --- keys -------------------------------------------------------------------------------
    def action_cancel(self) -> None:
        if self.generating:
            self._cancel.set()
            self.query_one("#ask-status", Static).update(Text("stopping…"))
        else:
            self.query_one("#question", Input).focus()

    async def action_new_conversation(self) -> None:
        if self.generating:
            self._cancel.set()
        self.serial += 1
        self.generating = False
        self.turns = 0
        conversation = self.query_one("#conversation", VerticalScroll)
        await conversation.remove_children()
        self._draft = None
        await conversation.mount(Markdown(INTRO, id="ask-intro"))
        self.query_one("#ask-sources", OptionList).clear_options()
        self.targets = []
        self.shown = None
        self.query_one("#ask-status", Static).update(Text("new conversation"))
        self.query_one("#question", Input).focus()

    def action_focus_sources(self) -> None:
        self.query_one("#ask-sources", OptionList).focus()

    # --- past questions ---------------------------------------------------------------------
    def action_history(self) -> None:
        from tui.screens.ask_history import AskHistoryScreen

        def chosen(exchange_id: int | None) -> None:
            if exchange_id is not None:
                self.run_worker(self.show_exchange(exchange_id), group="reopen")

        self.app.push_screen(AskHistoryScreen(), chosen)

    async def show_exchange(self, exchange_id: int) -> None:
        """Reopen a stored exchange: its question, answer and cited sources, as they were
        stored (no model is called).  The next question starts a new conversation."""
        exchange = get_exchange(self.runtime.store, exchange_id)
        if exchange is None:
            self.notify(f"no past question #{exchange_id}", severity="warning")
            return
        await self.action_new_conversation()
        conversation = self.query_one("#conversation", VerticalScroll)
        await conversation.remove_children()
        when = exchange.asked_at[:16].replace("T", " ")
        await conversation.mount(Static(join("Q: ", (exchange.question, "")), classes="question"))
        await conversation.mount(Static(
            join(f"asked {when} · ", (exchange.model_id or "unknown model", ""),
                 " · the stored answer"), classes="exchange-meta"))
        final, _ = strip_links(clean(exchange.answer))
        await conversation.mount(Markdown(final, classes="answer", parser_factory=no_link_parser,
                                          open_links=False))
        conversation.scroll_home(animate=False)
        self._show_sources(exchange)
        self.query_one("#ask-status", Static).update(Text(
            f"past question #{exchange.id} from {when} (stored; no model was called) — "
            "a new question starts a new conversation"))

    # --- reading state, copying -------------------------------------------------------------
    def on_screen_resume(self) -> None:
        if self.shown is not None:  # posts opened from the list are read now
            self._show_sources(self.shown, keep=True)

    def _target_under_cursor(self) -> Target | None:
        options = self.query_one("#ask-sources", OptionList)
        if not options.has_focus or options.highlighted is None:
            return None
        option = options.get_option_at_index(options.highlighted)
        if option.disabled or not option.id:
            return None
        return self.targets[int(option.id) - 1]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("save", "copy"):
            return self._target_under_cursor() is not None
        return True

    def action_copy(self) -> None:
        target = self._target_under_cursor()
        if target is not None:
            self.copy_citation(target.post_id)

    def action_save(self) -> None:
        target = self._target_under_cursor()
        if target is not None and self.toggle_saved(target.post_id) is not None:
            assert self.shown is not None
            self._show_sources(self.shown, keep=True)
