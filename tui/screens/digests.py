"""Digests: the days on the left, the day's digest as Markdown, and the posts it mentions."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Label, Markdown, OptionList
from textual.widgets.option_list import Option

from kb.store.posts import has_posts
from tui import data
from tui.marks import UNREAD, marks
from tui.safe import clean, join
from tui.screens.base import KbScreen
from tui.widgets.empty_state import EmptyState


class DigestsScreen(KbScreen):
    TITLE_TEXT = "Digests"
    HELP = (
        "The daily digests kb wrote, newest first. Move through the **days** on the left; the "
        "digest appears in the middle with its themes. The **Posts** list on the right holds "
        "every post the digest mentions (key posts first, then summaries): press `Enter` on "
        "one to read it. Clicking a link in the digest opens the post too.\n\n"
        "`●` marks a post you have not opened yet (a day shows how many of its posts are "
        "unread), `★` a saved post. In the Posts list `s` saves the post under the cursor (or "
        "unsaves it) and `c` copies its citation."
    )
    BINDINGS = [
        Binding("r", "refresh", "Reload"),
        Binding("p", "focus_posts", "Posts list"),
        Binding("s", "save", "Save/unsave"),
        Binding("c", "copy", "Copy citation"),
        Binding("escape", "focus_days", "Days", show=False),
    ]
    COUNT_NOW = 30  # unread counts of the newest days are shown at once, the rest by a worker

    class Counts(Message):
        def __init__(self, counts: dict[str, tuple[int, int]]) -> None:
            super().__init__()
            self.counts = counts

    def __init__(self) -> None:
        super().__init__()
        self.days: list[str] = []
        self.day = ""  # the day shown
        self.posts: list[data.DigestPost] = []  # the Posts list of that day

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="digests"):
            with Vertical(id="day-pane"):
                yield Label("Days", classes="pane-title")
                yield OptionList(id="day-list")
            with VerticalScroll(id="digest-pane"):
                yield Markdown("", id="digest-md", open_links=False)
            with Vertical(id="digest-posts-pane"):
                yield Label("Posts", classes="pane-title", id="digest-posts-title")
                yield OptionList(id="digest-posts")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Digests"
        self.action_refresh()

    def _days(self) -> list[str]:
        return data.digest_days(self.runtime.store, self.runtime.settings.digests_dir)

    def on_screen_resume(self) -> None:
        # a daily run (Sources screen, or cron) may have written a digest meanwhile
        if self._days() != self.days:
            self.action_refresh()
            return
        # posts opened meanwhile are read now
        days = list(dict.fromkeys([*self.days[:self.COUNT_NOW], *([self.day] if self.day else [])]))
        self._show_counts(data.unread_counts(self.runtime.store, self.runtime.settings.digests_dir,
                                             days))
        self._show_posts()

    def action_refresh(self) -> None:
        days = self._days()
        self.days = days
        day_list = self.query_one("#day-list", OptionList)
        day_list.clear_options()
        day_list.add_options([Option(d, id=d) for d in days])
        rt = self.runtime
        self._show_counts(data.unread_counts(rt.store, rt.settings.digests_dir,
                                             days[:self.COUNT_NOW]))
        if days[self.COUNT_NOW:]:
            self._count(days[self.COUNT_NOW:])
        for old in self.query(EmptyState):
            old.remove()
        if not days:
            message = (EmptyState.NO_DIGESTS if has_posts(self.runtime.store)
                       else EmptyState.NO_POSTS)
            self.query_one("#digest-pane").mount(EmptyState(message))
            self.query_one("#digest-md", Markdown).display = False
            return
        self.query_one("#digest-md", Markdown).display = True
        day_list.highlighted = 0  # OptionHighlighted shows the newest digest
        day_list.focus()

    @on(OptionList.OptionHighlighted, "#day-list")
    def _day_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self.show_day(event.option.id)

    @work(thread=True, group="counts")
    def _count(self, days: list[str]) -> None:
        rt = self.runtime
        self.post_message(self.Counts(data.unread_counts(rt.store, rt.settings.digests_dir,
                                                         days)))

    @on(Counts)
    def _counts(self, message: Counts) -> None:
        self._show_counts(message.counts)

    def _show_counts(self, counts: dict[str, tuple[int, int]]) -> None:
        """Each day with how many of its posts are unread (``2025-03-11 ●3``)."""
        day_list = self.query_one("#day-list", OptionList)
        for day, (unread, _total) in counts.items():
            if day not in self.days:
                continue
            label = Text(day)
            if unread:
                label.append(f" {UNREAD}{unread}", style="bold")
            day_list.replace_option_prompt(day, label)

    def show_day(self, day: str) -> None:
        rt = self.runtime
        digest = data.load_digest(rt.store, rt.settings.digests_dir, day)
        md = self.query_one("#digest-md", Markdown)
        self.day, self.posts = day, digest.posts if digest is not None else []
        self._show_posts(highlight=0)
        if digest is None:
            md.update(f"No digest for {day}.")
            return
        md.update(clean(digest.markdown))
        self.query_one("#digest-pane", VerticalScroll).scroll_home(animate=False)

    def _show_posts(self, highlight: int | None = None) -> None:
        """The Posts list of the day shown, with the reading marks (the cursor stays put
        unless ``highlight`` is given)."""
        posts = self.query_one("#digest-posts", OptionList)
        at = posts.highlighted if highlight is None else highlight
        state = data.marks_for(self.runtime.store, [p.post_id for p in self.posts])
        posts.clear_options()
        posts.add_options([
            Option(join(marks(p.post_id, state), (p.kind, "dim"), "  ", (p.title, "")),
                   id=p.post_id)
            for p in self.posts
        ])
        unread = sum(1 for p in self.posts if p.post_id in state.unread)
        title = self.query_one("#digest-posts-title", Label)
        title.update(f"Posts · {unread} unread" if unread else "Posts")
        if self.posts:
            posts.highlighted = min(at or 0, len(self.posts) - 1)

    def _post_under_cursor(self) -> str | None:
        posts = self.query_one("#digest-posts", OptionList)
        if not posts.has_focus or posts.highlighted is None:
            return None
        return posts.get_option_at_index(posts.highlighted).id

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("save", "copy"):
            # elsewhere `s` is the app's Search key
            return self._post_under_cursor() is not None
        return True

    def action_save(self) -> None:
        post_id = self._post_under_cursor()
        if post_id and self.toggle_saved(post_id) is not None:
            self._show_posts()

    def action_copy(self) -> None:
        post_id = self._post_under_cursor()
        if post_id:
            self.copy_citation(post_id)

    @on(OptionList.OptionSelected, "#digest-posts")
    def _post_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.kb_app.open_post(event.option.id)

    @on(OptionList.OptionSelected, "#day-list")
    def _day_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_focus_posts()

    @on(Markdown.LinkClicked, "#digest-md")
    def _link(self, event: Markdown.LinkClicked) -> None:
        post_id = data.resolve_link(self.runtime.store, event.href)
        if post_id:
            self.kb_app.open_post(post_id)
        elif event.href.startswith(("http://", "https://")):
            import webbrowser

            webbrowser.open(event.href)

    def action_focus_posts(self) -> None:
        self.query_one("#digest-posts", OptionList).focus()

    def action_focus_days(self) -> None:
        self.query_one("#day-list", OptionList).focus()
