"""`kb tui`: the terminal UI (Textual, imported only when the command runs)."""

from __future__ import annotations

import click

from kb.cli.app import App

pass_app = click.make_pass_decorator(App)


@click.command()
@click.option("--screen", "start", type=click.Choice(["digests", "search", "ask", "sources"]),
              default="digests", show_default=True, help="The screen to open first.")
@click.option("--post", "post_ref", default=None, help="Open this post (id or URL) at start.")
@click.option("--light", is_flag=True, help="Start with the light theme ([tui] light_theme).")
@pass_app
def tui(app: App, start: str, post_ref: str | None, light: bool) -> None:
    """Open the terminal UI: digests, posts, search, ask and sources (press ? for help)."""
    from tui.app import KbApp

    app.store  # noqa: B018 - a store that cannot be opened is a clean error, first
    theme = app.runtime.settings.tui.light_theme if light else None  # None: the saved theme
    kb_app = KbApp(app.runtime, start=start, theme=theme, open_post=post_ref)
    kb_app.run()
