"""`kb check CLAIM`: a fact-check of one claim against the archive."""

from __future__ import annotations

import click

from kb.cli.app import EXIT_USAGE, App, KbError, backend_errors, console, emit_json, inert

pass_app = click.make_pass_decorator(App)

STYLE = {"supported": "green", "weak": "yellow", "contradicted": "red", "unsupported": "dim"}


@click.command()
@click.argument("claim", nargs=-1, required=True)
@click.option("--post", "post_ref", metavar="ID|URL",
              help="Check against this post's own passages instead of searching the archive.")
@click.option("-k", "--k", "k", type=click.IntRange(1, 30), default=None,
              help="Passages to weigh: default 5 found by searching the archive, or with "
                   "--post the post's 3 passages that share most words with the claim.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def check(app: App, claim: tuple[str, ...], post_ref: str | None, k: int | None,
          as_json: bool) -> None:
    """Is CLAIM what the archive says?  Prints the verdict (supported, weak, contradicted,
    unsupported), the passages behind it with their links and offsets, and why (e.g.
    "number differs: 21% vs 12%")."""
    from digest.check import CheckError, check_claim
    from kb.retrieval import SearchError

    rt = app.runtime
    try:
        with backend_errors():
            result = check_claim(app.store, rt.embedder, None if post_ref else rt.index,
                                 " ".join(claim), post_ref=post_ref, k=k)
    except (CheckError, SearchError) as exc:
        raise KbError(str(exc), EXIT_USAGE) from exc
    if as_json:
        emit_json(result.to_json())
        return
    console.print(f"{result.verdict}", style=f"bold {STYLE[result.verdict]}", markup=False)
    if not result.evidence:
        console.print("no passage in the archive bears on this claim", markup=False)
    for f in result.evidence:
        console.print("")
        console.print(inert(f"[{f.evidence.verdict}] {f.title} — {(f.published or '')[:10]}"),
                      style=STYLE[f.evidence.verdict], markup=False, soft_wrap=True)
        console.print(inert(f"    {f.url}  chars {f.start}–{f.end}"), style="cyan",
                      markup=False, soft_wrap=True)
        passage = inert(" ".join(f.text.split()))
        console.print("    " + passage[:400] + ("…" if len(passage) > 400 else ""),
                      markup=False, soft_wrap=True)
        for reason in f.evidence.reasons:
            console.print(inert(f"    why: {reason}"), style="dim", markup=False,
                          soft_wrap=True)
