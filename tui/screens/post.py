"""The post reader: title, authors, date, URLs, summary, versions and the archived text."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Markdown, Static

from kb.store import posts as posts_repo
from kb.store import reading
from tui import data
from tui.safe import clean, one_line
from tui.screens.base import KbScreen
from tui.widgets.post_body import PostBody


class PostScreen(KbScreen):
    TITLE_TEXT = "Post"
    HELP = (
        "One archived post: its title, authors, date, every URL it is known by, its summary "
        "when kb wrote one, and the archived text. Opened from a search result or a citation, "
        "the passage is highlighted and scrolled into view.\n\n"
        "`b` opens the canonical URL in your browser. `v` lists the versions kb archived; "
        "highlight one to see what changed (a unified diff) and press `Enter` to read it.\n\n"
        "Opening a post marks it read (`u` marks it unread again). `s` saves the post (★) or "
        "unsaves it; `c` copies the highlighted passage, or the post's citation when no "
        "passage is highlighted."
    )
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("b", "browser", "Open in browser"),
        Binding("v", "versions", "Versions"),
        Binding("g", "passage", "Go to passage"),
        Binding("s", "save", "Save/unsave"),
        Binding("c", "copy", "Copy"),
        Binding("u", "unread", "Mark unread", show=False),
        Binding("home", "top", "Top", show=False),
    ]

    def __init__(self, post_id: str, *, version: int | None = None, start: int | None = None,
                 end: int | None = None) -> None:
        super().__init__()
        self.post_id = post_id
        self.version = version
        self.start = start
        self.end = end
        self.post: posts_repo.Post | None = None
        self.shown_version: int | None = None  # the version whose text is on screen
        self.text = ""  # that version's text
        self.versions = 0  # how many versions the post has

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="post-scroll"):
            yield Static(id="post-title")
            yield Static(id="post-meta")
            yield Static(id="post-urls")
            yield Markdown("", id="post-summary")
            yield PostBody(id="post-body")
        yield Footer()

    async def on_mount(self) -> None:
        self.sub_title = "Post"
        await self.load()

    async def load(self) -> None:
        store = self.runtime.store
        post = posts_repo.get_post(store, self.post_id)
        body = self.query_one(PostBody)
        if post is None:
            self.query_one("#post-title", Static).update(
                Text(f"No post {one_line(self.post_id)} in the archive."))
            return
        self.post = post
        reading.mark_read(store, [post.id])  # opened: read
        versions = posts_repo.list_versions(store, post.id)
        text = post.text
        shown = post.version
        if self.version and self.version != post.version:
            other = posts_repo.version_text(store, post.id, self.version)
            if other is not None:
                text, shown = other, self.version
        self.query_one("#post-title", Static).update(Text(one_line(post.title), style="bold"))
        self.versions = len(versions)
        self.shown_version = shown
        self._show_meta()
        urls = Text()
        for u in post.urls:
            urls.append("★ " if u == post.canonical_url else "  ", style="bold")
            urls.append(one_line(u) + "\n", style="underline" if u == post.canonical_url else "")
        urls.rstrip()
        self.query_one("#post-urls", Static).update(urls)
        summary = data.summary_for(store, post.id)
        summary_md = self.query_one("#post-summary", Markdown)
        summary_md.display = bool(summary)
        summary_md.border_title = "Summary"
        if summary:
            await summary_md.update(clean(summary))
        target = await body.show(text, self.start, self.end)
        self.text = text
        if target is not None:
            self.call_after_refresh(self.action_passage)

    def _show_meta(self) -> None:
        post, shown = self.post, self.shown_version
        assert post is not None
        meta = Text()
        meta.append(one_line(", ".join(post.authors) or "unknown author"), style="italic")
        meta.append(f" — {(post.published or 'undated')[:10]} — ")
        meta.append(one_line(post.site))
        if post.is_af:
            meta.append(" — Alignment Forum")
        if reading.is_saved(self.runtime.store, post.id):
            meta.append("  · saved", style="bold yellow")
        meta.append(f"\nversion {shown} of {self.versions}", style="dim")
        if shown != post.version:
            meta.append(f" (the current version is {post.version})", style="dim")
        self.query_one("#post-meta", Static).update(meta)

    def action_passage(self) -> None:
        body = self.query_one(PostBody)
        if body.passage_blocks:
            self.query_one("#post-scroll", VerticalScroll).scroll_to_widget(
                body.passage_blocks[0], animate=False, top=True)

    def action_top(self) -> None:
        self.query_one("#post-scroll", VerticalScroll).scroll_home(animate=False)

    def action_back(self) -> None:
        self.dismiss()

    def action_browser(self) -> None:
        if self.post is None:
            return
        import webbrowser

        webbrowser.open(self.post.canonical_url)
        self.notify(f"opened {one_line(self.post.canonical_url)}", markup=False)

    def action_versions(self) -> None:
        if self.post is None:
            return
        from tui.screens.versions import VersionsScreen

        def chosen(version: int | None) -> None:
            if version is not None and version != self.shown_version:
                self.version, self.start, self.end = version, None, None
                self.run_worker(self.load(), exclusive=True, group="load")

        self.app.push_screen(VersionsScreen(self.post.id, self.post.title), chosen)

    def action_save(self) -> None:
        if self.post is not None and self.toggle_saved(self.post.id) is not None:
            self._show_meta()

    def action_unread(self) -> None:
        if self.post is not None:
            reading.mark_unread(self.runtime.store, [self.post.id])
            self.notify("marked unread (opening it again marks it read)", markup=False)

    @property
    def passage(self) -> str:
        """The characters ``start:end`` of the text shown ("" without a passage)."""
        if self.start is None or self.end is None or not self.text:
            return ""
        return clean(self.text[max(0, self.start):max(0, self.end)]).strip()

    def action_copy(self) -> None:
        if self.post is None:
            return
        if self.passage:
            self.copy(self.passage, "the passage")
        else:
            self.copy_citation(self.post.id)
