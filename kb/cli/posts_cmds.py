"""`kb posts`: list, show and cite archived posts; reading state (read/unread, saved)."""

from __future__ import annotations

import sys
from datetime import date

import click
from rich.table import Table

from kb.cli.app import App, KbError, console, emit_json, inert
from kb.cli.complete import complete_sources
from kb.store import posts as posts_repo
from kb.store import reading

pass_app = click.make_pass_decorator(App)


def _iso_date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _resolve(app: App, refs: tuple[str, ...] | list[str]) -> list[str]:
    """Post ids for ids or URLs; every unknown one is named in the error."""
    ids, missing = [], []
    for ref in refs:
        post = posts_repo.get_post(app.store, ref, with_text=False)
        if post is None:
            missing.append(ref)
        else:
            ids.append(post.id)
    if missing:
        raise KbError(str(reading.UnknownPostError(missing)))
    return list(dict.fromkeys(ids))


@click.group()
def posts() -> None:
    """List, show and cite archived posts; mark them read, save them."""


@posts.command("list")
@click.option("--since", help="Posted on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Posted on or before this date (YYYY-MM-DD).")
@click.option("--source", help="Only posts first seen from this source (name or id) or site.",
              shell_complete=complete_sources)
@click.option("--limit", type=int, default=None, help="At most this many posts.")
@click.option("--unread", is_flag=True, help="Only posts not marked read.")
@click.option("--saved", is_flag=True, help="Only saved posts (`kb posts save`).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def posts_list(app: App, since: str | None, until: str | None, source: str | None,
               limit: int | None, unread: bool, saved: bool, as_json: bool) -> None:
    """Posts, newest first."""
    store = app.store
    items = posts_repo.list_posts(store, since=since, until=until, source=source, limit=limit,
                                  unread=unread, saved=saved)
    new = reading.unread_ids(store, [p.id for p in items])
    kept = set(reading.saved_ids(store))
    if as_json:
        emit_json([{**{k: v for k, v in p.to_json().items() if k != "text"},
                    "unread": p.id in new, "saved": p.id in kept} for p in items])
        return
    table = Table(show_lines=False)
    for col in ("", "id", "published", "title", "authors", "site"):
        table.add_column(col, overflow="fold")
    for p in items:
        mark = ("●" if p.id in new else " ") + ("★" if p.id in kept else " ")
        table.add_row(mark, p.id, (p.published or "")[:10], inert(p.title),
                      inert(", ".join(p.authors[:3])), inert(p.site))
    console.print(table, markup=False)
    console.print(f"{len(items)} posts ({len(new)} unread; ● unread, ★ saved)")


@posts.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def posts_show(app: App, ref: str, as_json: bool) -> None:
    """One post by id or by any of its URLs."""
    post = posts_repo.get_post(app.store, ref)
    if post is None:
        raise KbError(f"no post {ref!r} in the archive (try `kb posts list` or `kb search`)")
    versions = posts_repo.list_versions(app.store, post.id)
    if as_json:
        emit_json(post.to_json(versions=versions))
        return
    console.print(inert(post.title), style="bold", markup=False)
    console.print(inert(f"{', '.join(post.authors)} — {post.published or 'undated'}"),
                  markup=False)
    for u in post.urls:
        console.print(inert(("* " if u == post.canonical_url else "  ") + u), markup=False)
    console.print(f"version {post.version} of {len(versions)}\n", style="dim")
    console.print(inert(post.text), markup=False)


@posts.command("mark-read")
@click.argument("refs", nargs=-1, metavar="[ID|URL]...")
@click.option("--all", "all_", is_flag=True, help="Mark every post read.")
@click.option("--before", callback=_iso_date,
              help="Mark every post published before this date (YYYY-MM-DD) read.")
@click.option("--unread", "undo", is_flag=True, help="Mark the given posts unread instead.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def posts_mark_read(app: App, refs: tuple[str, ...], all_: bool, before: str | None,
                    undo: bool, as_json: bool) -> None:
    """Mark posts read: the given ids/URLs, --all, or everything published --before a date."""
    store = app.store
    bulk = all_ or before is not None
    if refs and bulk:
        raise KbError("give post ids, or --all/--before, not both", 2)
    if not refs and not bulk:
        raise KbError("name posts to mark read (ids or URLs), or use --all or --before DATE", 2)
    if undo and bulk:
        raise KbError("--unread takes post ids (there is no bulk mark-unread)", 2)
    out: dict[str, object]
    if bulk:
        changed = reading.mark_all_read(store, before=before)
        out = {"action": "mark-read", "changed": changed, "before": before}
        what = f"published before {before}" if before else "in the archive"
        message = f"marked {changed} more post(s) {what} read"
    else:
        ids = _resolve(app, refs)
        flip = set(ids) - reading.unread_ids(store, ids) if undo else reading.unread_ids(store, ids)
        changed = (reading.mark_unread if undo else reading.mark_read)(store, ids)
        state = "unread" if undo else "read"
        out = {"action": f"mark-{state}", "changed": changed,
               "ids": [i for i in ids if i in flip],
               "unchanged": [i for i in ids if i not in flip]}
        message = f"marked {changed} post(s) {state}"
        if changed < len(ids):
            message += f" ({len(ids) - changed} already {state})"
    if as_json:
        emit_json(out)
    else:
        console.print(message, markup=False)


def _set_saved(app: App, ref: str, saved: bool, as_json: bool) -> None:
    store = app.store
    pid = _resolve(app, [ref])[0]
    before = reading.is_saved(store, pid)
    if not reading.set_saved(store, pid, saved):  # deleted meanwhile
        raise KbError(str(reading.UnknownPostError([ref])))
    if as_json:
        emit_json({"id": pid, "saved": saved, "changed": before != saved})
        return
    verb = "saved" if saved else "unsaved"
    console.print(f"{verb} {pid}" if before != saved else f"{pid} was already {verb}",
                  markup=False)


@posts.command("save")
@click.argument("ref", metavar="ID|URL")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def posts_save(app: App, ref: str, as_json: bool) -> None:
    """Save a post (list them with `kb posts list --saved`)."""
    _set_saved(app, ref, True, as_json)


@posts.command("unsave")
@click.argument("ref", metavar="ID|URL")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def posts_unsave(app: App, ref: str, as_json: bool) -> None:
    """Remove a post from the saved ones."""
    _set_saved(app, ref, False, as_json)


@posts.command("cite")
@click.argument("ref", metavar="ID|URL")
@click.option("--format", "fmt", type=click.Choice(["bibtex", "markdown", "plain"]),
              default="bibtex", show_default=True, help="Citation style.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (key, format, citation).")
@pass_app
def posts_cite(app: App, ref: str, fmt: str, as_json: bool) -> None:
    """A citation for a post: authors, title, site, date and canonical URL.

    BibTeX entries are @misc with the forum or site as howpublished; paste them into your
    .bib file."""
    from kb import citation

    post = posts_repo.get_post(app.store, ref, with_text=False)
    if post is None:
        raise KbError(f"no post {ref!r} in the archive (try `kb posts list` or `kb search`)")
    text = citation.cite(post, "markdown" if fmt == "markdown" else
                         "plain" if fmt == "plain" else "bibtex")
    if as_json:
        emit_json({"id": post.id, "format": fmt, "key": citation.bibtex_key(post),
                   "citation": text})
        return
    sys.stdout.write(text)
    sys.stdout.flush()
