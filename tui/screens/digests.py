"""Digests: the days on the left, the day's digest as Markdown, and the posts it mentions."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, Label, Markdown, OptionList
from textual.widgets.option_list import Option

from kb.store.posts import has_posts
from tui import data
from tui.safe import clean, join
from tui.screens.base import KbScreen
from tui.widgets.empty_state import EmptyState


class DigestsScreen(KbScreen):
    TITLE_TEXT = "Digests"
    HELP = (
        "The daily digests kb wrote, newest first. Move through the **days** on the left; the "
        "digest appears in the middle with its themes. The **Posts** list on the right holds "
        "every post the digest mentions (key posts first, then summaries): press `Enter` on "
        "one to read it. Clicking a link in the digest opens the post too."
    )
    BINDINGS = [
        Binding("r", "refresh", "Reload"),
        Binding("p", "focus_posts", "Posts list"),
        Binding("escape", "focus_days", "Days", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.days: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="digests"):
            with Vertical(id="day-pane"):
                yield Label("Days", classes="pane-title")
                yield OptionList(id="day-list")
            with VerticalScroll(id="digest-pane"):
                yield Markdown("", id="digest-md", open_links=False)
            with Vertical(id="digest-posts-pane"):
                yield Label("Posts", classes="pane-title")
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

    def action_refresh(self) -> None:
        days = self._days()
        self.days = days
        day_list = self.query_one("#day-list", OptionList)
        day_list.clear_options()
        day_list.add_options([Option(d, id=d) for d in days])
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

    def show_day(self, day: str) -> None:
        rt = self.runtime
        digest = data.load_digest(rt.store, rt.settings.digests_dir, day)
        md = self.query_one("#digest-md", Markdown)
        posts = self.query_one("#digest-posts", OptionList)
        posts.clear_options()
        if digest is None:
            md.update(f"No digest for {day}.")
            return
        md.update(clean(digest.markdown))
        self.query_one("#digest-pane", VerticalScroll).scroll_home(animate=False)
        posts.add_options([
            Option(join((p.kind, "dim"), "  ", (p.title, "")), id=p.post_id)
            for p in digest.posts
        ])
        if digest.posts:
            posts.highlighted = 0

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
