"""The `aws-anki` command line: a thin layer over `aws_anki.build_deck` and `build_into`, which take
the same `DeckOptions` and `RunOptions` as the click options make.

The heavy parts are imported inside the commands that use them (measured after this module: card
checks ~100 ms, preview ~25 ms, push ~20 ms, sync ~125 ms), and so are the pipeline's modules:
`aws-anki --help` and an up-to-date `build` load none of them (tests/test_uptodate_record.py)."""
from __future__ import annotations

import functools
import gc
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import click

from .build import BuildReport, BuildResult, build_deck, build_into
from .errors import AwsAnkiError, BuildWarning, printable
from .options import DECK_LAYOUTS, REVERSE_MODES, DeckOptions, RunOptions
from .outputs import output_lock, refuse_unsafe_outputs
from .progress import ProgressBar
from .state import state_path

if TYPE_CHECKING:
    from .state import RemovedNote


def _build_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options shared by every command that builds notes, given to `command` as one
    `deck: DeckOptions` argument and the `exclude` patterns (after `paths`)."""

    @functools.wraps(command)
    def with_deck_options(*, deck_name: str, deck_by: str, reverse: str, no_file_tags: bool, mention_tags: bool,
                          tag_prefix: str, attachments: tuple[str, ...], exclude: tuple[str, ...], **rest: Any) -> Any:
        deck = DeckOptions(deck_name=deck_name, deck_by=deck_by, reverse=reverse, tag_prefix=tag_prefix,
                           file_tags=not no_file_tags, secondary_tags=mention_tags, attachments=tuple(attachments))
        return command(deck=deck, exclude=tuple(exclude), **rest)

    decorators = [
        click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path)),
        click.option("--deck-name", default="AWS", show_default=True, help="Name of the (top) deck."),
        click.option("--deck-by", type=click.Choice(DECK_LAYOUTS), default="none", show_default=True,
                     help="Split into subdecks by category, service or file (default: one deck, study by tags)."),
        click.option("--reverse", type=click.Choice(REVERSE_MODES), default="none", show_default=True,
                     help="Add a reverse card (definition -> term) to short definitions or to all."),
        click.option("--no-file-tags", is_flag=True, help="Do not tag notes with their source file."),
        click.option("--mention-tags", is_flag=True, help="Also tag services mentioned in a fact's text (mentions::X)."),
        click.option("--tag-prefix", default="AWS", show_default=True, help="Root of the hierarchical tags (PREFIX::Category::Service)."),
        click.option("--attachments", multiple=True, type=click.Path(file_okay=False),
                     help="Folder of pasted images: relative to the notes root, ./DIR per note, or absolute. Repeatable."),
        click.option("--exclude", multiple=True, metavar="GLOB",
                     help="Leave out notes matching GLOB (gitignore syntax, below the notes root: 'drafts/', "
                          "'*.draft.md'), besides those the root's .aws-anki-ignore names. Repeatable."),
    ]
    wrapped: Callable[..., Any] = with_deck_options
    for decorator in reversed(decorators):
        wrapped = decorator(wrapped)
    return wrapped


def _run_build(paths: Sequence[Path], deck: DeckOptions, exclude: Sequence[str], run: RunOptions = RunOptions()) -> BuildResult:
    """Run `build_deck`; library errors become click errors."""
    try:
        return build_deck(list(paths) or None, deck, run, exclude=exclude)
    except AwsAnkiError as error:
        raise click.ClickException(str(error)) from error


def _echo_delivery(report: Any, as_json: bool) -> bool:
    """Print a push/sync report as JSON (True: nothing more to print), else just its warnings."""
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return True
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    return False


def _echo_warnings(warnings: Sequence[BuildWarning], limit: int = 20) -> None:
    for warning in warnings[:limit]:
        click.echo(f"warning: {warning}", err=True)
    if len(warnings) > limit:
        click.echo(f"warning: ... and {len(warnings) - limit} more (see --json)", err=True)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from . import __version__  # lazy: looking up the installed version costs ~13 ms at start-up

        click.echo(f"aws-anki, version {__version__}")
        ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
def cli() -> None:
    """Turn Markdown study notes about AWS into an Anki deck.

    Example: aws-anki build notes/ -o aws.apkg
    """


@cli.command()
@_build_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("aws.apkg"), show_default=True,
              help="Where to write the .apkg.")
@click.option("--no-state", is_flag=True, help="Ignore and do not write the build state file (OUTPUT.lock.json).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--strict", is_flag=True, help="Exit with status 1 when there are warnings (for CI).")
@click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors.")
@click.option("--preview", "preview_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a card preview page (HTML) to this path.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where parsed notes are cached [default: $AWS_ANKI_CACHE_DIR, else the user cache folder].")
@click.option("--no-cache", is_flag=True, help="Parse every file again; do not read or write the cache.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=0, help="Worker processes for parsing (0: one per CPU).")
def build(paths: tuple[Path, ...], output: Path, no_state: bool, as_json: bool, strict: bool, quiet: bool,
          preview_path: Path | None, cache_dir: Path | None, no_cache: bool, jobs: int, deck: DeckOptions,
          exclude: tuple[str, ...]) -> None:
    """Build an Anki deck (.apkg) from Markdown notes (default: the bundled AWS notes).

    Rebuilding into the same OUTPUT keeps every note's identity, so re-importing into Anki updates
    changed notes in place and keeps your reviews.

    Example: aws-anki build ~/vault/AWS -o aws.apkg --deck-name "AWS SAA"
    """
    progress = ProgressBar(enabled=not (quiet or as_json) and sys.stderr.isatty())
    run = RunOptions(jobs=jobs or None, use_cache=not no_cache, cache_dir=cache_dir, progress=progress)
    outputs = (output, *(() if no_state else (state_path(output),)), *(() if preview_path is None else (preview_path,)))
    try:
        refuse_unsafe_outputs(outputs)  # before any work; the inputs are checked once they are known
        with output_lock(output, what="deck", waiting=_say_waiting):
            if preview_path is None:
                built = build_into(output, list(paths) or None, deck, run, use_state=not no_state, exclude=exclude)
                report, written = built.report, built.written
            else:  # the preview needs the notes, so this build always makes them
                result = build_deck(list(paths) or None, deck, run, exclude=exclude)
                refuse_unsafe_outputs(outputs, (*result.sources, *result.media_files.values()))
                progress("write", 0, 0)
                report, written = result.report, result.write(output, use_state=not no_state)
                from .preview import write_preview  # lazy: see the module docstring

                write_preview(result, preview_path)
    except AwsAnkiError as error:
        raise click.ClickException(str(error)) from error
    finally:
        progress.close()
    warnings = (*report.warnings, *written.warnings)
    if as_json:
        data = report.as_dict()
        data["output"] = str(written.path)
        data["size"] = written.size
        data["up_to_date"] = written.up_to_date
        data["changes"] = written.changes.as_dict()
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        _echo_warnings(warnings)
        if not quiet:
            _print_summary(report, written.path, written.size, written.up_to_date)
            changes = written.changes
            click.echo(
                f"Changes since last build: {len(changes.added)} added, {len(changes.updated)} updated, "
                f"{len(changes.unchanged)} unchanged, {len(changes.removed)} removed"
            )
            _echo_removed(changes.removed)
    if strict and warnings:
        raise SystemExit(1)


def _say_waiting(output: Path, holder: str) -> None:
    """Tell the user this build waits for another one writing the same output."""
    who = f" (process {holder})" if holder else ""
    click.echo(f"Another aws-anki build{who} is writing {printable(str(output))}; waiting for it to finish...", err=True)


def _echo_removed(removed: Sequence[RemovedNote], shown: int = 10) -> None:
    """Name the notes whose facts are gone, each with the Anki search that finds it."""
    if not removed:
        return
    click.echo(f"  {len(removed)} facts are gone from the notes; their notes stay in Anki until you delete them there:")
    for note in removed[:shown]:
        # the text comes from notes: no control character reaches the terminal
        click.echo("  removed: " + "".join(c if c.isprintable() else "\ufffd" for c in str(note)))
    if len(removed) > shown:
        click.echo(f"  ... and {len(removed) - shown} more removed (see --json)")


def _print_summary(report: BuildReport, path: Path, size: int, up_to_date: bool = False) -> None:
    kinds = ", ".join(f"{count} {kind}" for kind, count in report.notes_by_kind.items())
    by_type = ", ".join(f"{report.notes_by_type.get(t, 0)} {t} notes ({report.cards_by_type.get(t, 0)} cards)" for t in ("basic", "cloze"))
    done = "Up to date (nothing changed since the last build):" if up_to_date else "Wrote"
    click.echo(f"{done} {path} ({size / 1024:.0f} KiB): {report.notes} notes, {report.cards} cards from {report.files} files.")
    click.echo(f"  {by_type}")
    if kinds:
        click.echo(f"  by kind: {kinds}")
    if report.merged:
        click.echo(f"  {report.merged} duplicate facts merged")
    click.echo(f"  {len(report.warnings)} warnings")


@cli.command()
@_build_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per note, card or skipped line (JSON lines).")
@click.option("--stats", is_flag=True,
              help="Counts per kind and service, coverage, skipped lines, and card defects per class with examples.")
@click.option("--skipped", is_flag=True, help="Every line that made no card, with its reason, grouped by reason.")
@click.option("--sample", type=click.IntRange(min=1), metavar="N",
              help="N cards drawn at random, each as the learner sees it (FRONT:/BACK:, blanks as [...]).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the --sample draw (same seed, same cards).")
@click.option("--no-source", is_flag=True, help="With --sample: leave out each card's file and kind (for blind rating).")
def inspect(paths: tuple[Path, ...], as_json: bool, stats: bool, skipped: bool, sample: int | None, seed: int,
            no_source: bool, deck: DeckOptions, exclude: tuple[str, ...]) -> None:
    """Show the notes a build would make, without writing a deck.

    --sample writes cards the way blind raters get them (see the quality rubric); --stats counts
    the card defects a program can see; --skipped lists the lines that made no card. The files
    --exclude or .aws-anki-ignore left out are listed on stderr ("excluded: PATH").

    Example: aws-anki inspect notes/lambda.md --json | head
    """
    modes = [name for name, on in (("--stats", stats), ("--skipped", skipped), ("--sample", sample is not None)) if on]
    if len(modes) > 1:
        raise click.UsageError(f"{' and '.join(modes)} cannot be used together")
    if no_source and sample is None:
        raise click.UsageError("--no-source goes with --sample")
    result = _run_build(paths, deck, exclude, RunOptions(quality=stats or skipped))
    for excluded in result.excluded:
        click.echo(f"excluded: {printable(excluded)}", err=True)
    from . import inspection  # the card checks and the preview's card maker: see the module docstring

    if stats:
        inspection.print_stats(result, as_json)
    elif skipped:
        inspection.print_skipped(result, as_json)
    elif sample is not None:
        _echo_warnings(result.report.warnings)
        inspection.print_sample(result, sample, seed, no_source, as_json)
    else:
        _echo_warnings(result.report.warnings)
        inspection.print_notes(result, as_json)


@cli.command()
@_build_options
@click.option("--url", default="http://127.0.0.1:8765", show_default=True, envvar="AWS_ANKI_ANKICONNECT_URL",
              help="AnkiConnect address.")
@click.option("--key", envvar="AWS_ANKI_ANKICONNECT_KEY", help="AnkiConnect API key, if one is set in its config.")
@click.option("--delete", is_flag=True, help="Also delete notes this tool pushed whose facts are gone from the notes.")
@click.option("--dry-run", is_flag=True, help="Show what would change in Anki, change nothing.")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path),
              help="Build state file (e.g. aws.apkg.lock.json) to keep GUIDs exactly as `build` does.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def push(paths: tuple[Path, ...], url: str, key: str | None, delete: bool, dry_run: bool, state: Path | None,
         as_json: bool, deck: DeckOptions, exclude: tuple[str, ...]) -> None:
    """Send the notes to a running Anki desktop through the AnkiConnect add-on.

    New facts are added, changed ones updated in place (reviews kept), unchanged ones left alone
    (edits made in Anki survive). Only notes this tool made are ever changed or deleted.

    Example: aws-anki push ~/vault/AWS --dry-run
    """
    from .deliver.ankiconnect import push as push_to_anki  # lazy: see the module docstring

    result = _run_build(paths, deck, exclude)
    _echo_warnings(result.report.warnings)
    try:
        report = push_to_anki(result, url=url, key=key, delete=delete, dry_run=dry_run, state=state)
    except AwsAnkiError as error:
        raise click.ClickException(str(error)) from error
    if _echo_delivery(report, as_json):
        return
    verb = "Would push" if dry_run else "Pushed"
    click.echo(f"{verb} to {url}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
               f"{report.deleted} deleted, {report.media} media files")
    for change in report.note_types:
        click.echo(f"  {change}")
    for planned in report.plan if dry_run else [p for p in report.plan if p.action == "stale"]:
        click.echo(f"  {planned.action:<7} {planned.where}")
    if report.stale and not delete:
        click.echo(f"  {report.stale} notes made by aws-anki are gone from the notes; --delete removes them")


@cli.command()
@_build_options
@click.option("--collection", "collection", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The collection file (collection.anki2); created if missing. Anki must not have it open.")
@click.option("--server", help="Self-hosted sync server URL (default: AnkiWeb).")
@click.option("--user", envvar="AWS_ANKI_SYNC_USER", help="Sync account (AnkiWeb e-mail). Without it: import only.")
@click.option("--full-sync", type=click.Choice(["upload", "download"]),
              help="If the server demands a one-way full sync while both sides have cards: which side wins.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def sync(paths: tuple[Path, ...], collection: Path, server: str | None, user: str | None, full_sync: str | None,
         as_json: bool, deck: DeckOptions, exclude: tuple[str, ...]) -> None:
    """Import the notes into a collection file and sync it (AnkiWeb or your own server), no Anki window needed.

    AnkiMobile and AnkiDroid get the cards at their next sync. The password comes from
    AWS_ANKI_SYNC_PASSWORD or a hidden prompt and is never stored.

    Example: aws-anki sync ~/vault/AWS --collection ~/aws-anki/collection.anki2 --user me@example.com
    """
    from .deliver.collection_sync import PASSWORD_ENV, sync_collection  # lazy: see the module docstring

    result = _run_build(paths, deck, exclude)
    _echo_warnings(result.report.warnings)
    password = None
    if user:
        password = os.environ.get(PASSWORD_ENV) or click.prompt(f"Sync password for {user}", hide_input=True)
    try:
        report = sync_collection(result, collection, server=server, user=user, password=password, full_sync=full_sync,
                                 progress=None if as_json else (lambda message: click.echo(f"... {message}", err=True)))
    except AwsAnkiError as error:
        raise click.ClickException(str(error)) from error
    if _echo_delivery(report, as_json):
        return
    click.echo(f"Imported into {report.collection}: {report.added} added, {report.updated} updated, "
               f"{report.unchanged} unchanged")
    for step in report.steps:
        click.echo(f"  {step}")
    if report.server_message:
        click.echo(f"  server says: {report.server_message}")
    if not report.synced:
        click.echo("  not synced (no --user): open the collection in Anki, or pass --user to sync it")
    _echo_removed(report.changes.removed if report.changes else ())


@cli.command()
@_build_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("preview.html"),
              show_default=True, help="Where to write the preview page.")
def preview(paths: tuple[Path, ...], output: Path, deck: DeckOptions, exclude: tuple[str, ...]) -> None:
    """Write one self-contained HTML page showing every card, front and back, as Anki will.

    Filter by service or kind, search, flip cards, switch night mode; nothing is imported.

    Example: aws-anki preview ~/vault/AWS -o preview.html
    """
    from .preview import write_preview  # lazy: see the module docstring

    try:
        refuse_unsafe_outputs((output,))  # before any work; the inputs are checked once they are known
    except AwsAnkiError as error:
        raise click.ClickException(str(error)) from error
    result = _run_build(paths, deck, exclude)
    _echo_warnings(result.report.warnings)
    try:
        with output_lock(output, what="preview page", waiting=_say_waiting):
            path = write_preview(result, output)
    except AwsAnkiError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Wrote {path}: {result.report.cards} cards from {result.report.notes} notes. Open it in a browser.")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON lines.")
@click.option("--category", help="Only services of this category.")
def services(as_json: bool, category: str | None) -> None:
    """List the AWS services aws_anki recognises, with their tags and aliases.

    Example: aws-anki services --category Storage
    """
    from .services import load_catalog  # ~5 ms (measured), and a pipeline module: never loaded at start-up

    catalog = load_catalog().services
    categories = sorted({s.category for s in catalog})
    if category and category.casefold() not in {c.casefold() for c in categories}:
        raise click.BadParameter(f"no category {category!r}; the categories are: {', '.join(categories)}",
                                 param_hint="--category")
    for service in catalog:
        if category and service.category.casefold() != category.casefold():
            continue
        if as_json:
            click.echo(json.dumps({"key": service.key, "name": service.name, "tag": service.tag,
                                   "category": service.category, "aliases": list(service.aliases)}, ensure_ascii=False))
        else:
            aliases = f"  ({', '.join(service.aliases)})" if service.aliases else ""
            click.echo(f"{service.name:<45} {service.tag:<24} {service.category}{aliases}")


def main() -> None:
    """Entry point of the `aws-anki` console script."""
    try:
        cli(prog_name="aws-anki")
    finally:
        _end_of_process()


def _end_of_process() -> None:
    """For a program about to exit: freeze what is alive, so that the cycle collections run while
    the interpreter shuts down do not scan every module and object again (about 20 ms after a
    build, 5 ms after an up-to-date one). Only for a process that is ending: frozen objects are
    never collected."""
    gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
