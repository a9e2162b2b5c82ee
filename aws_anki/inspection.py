"""What `aws-anki inspect` prints: the notes, the build's counts and card defects (`--stats`), the
lines that made no card (`--skipped`), and a sample of cards as blind raters get them (`--sample`).

Imported by the command when it runs: the card checks and the preview's card maker it needs cost
about 125 ms to import, which `aws-anki --help` and `build` should not pay."""
from __future__ import annotations

import json
import random
from typing import Any

import click

from .build import BuildReport, BuildResult
from .cardchecks import CardQuality, card_quality
from .cardtext import card_text, visible_text
from .preview import preview_cards


def print_notes(result: BuildResult, as_json: bool) -> None:
    """Each note: its source, kind and context, question and answer (or one JSON object a note)."""
    if as_json:
        for note in result.notes:
            click.echo(json.dumps(note.as_dict(), ensure_ascii=False))
        return
    for note in result.notes:
        question = visible_text(note.fields[0])
        answer = visible_text(note.fields[1]) if note.note_type == "basic" else ""
        click.echo(f"{note.source}  [{note.kind}]  {note.context}")
        click.echo(f"    Q: {_shorten(question)}")
        if answer:
            click.echo(f"    A: {_shorten(answer)}")


def print_stats(result: BuildResult, as_json: bool) -> None:
    """The build report's counts and coverage, then the card defects a program can see."""
    cards = card_quality(result.notes)
    if as_json:
        data = result.report.as_dict()
        data["card_quality"] = cards.as_dict()
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    _print_report(result.report)
    _print_card_quality(cards)


def _print_card_quality(cards: CardQuality) -> None:
    click.echo(f"Card defects: {cards.defective_cards} of {cards.cards} cards ({cards.defective_share:.1%}) "
               f"from {cards.notes} notes have at least one")
    for kind, count in cards.counts.items():
        click.echo(f"  {kind:<26} {count}")
        for defect in cards.examples(kind):
            click.echo(f"      {defect.source} ({defect.card}): {defect.text}")


def print_skipped(result: BuildResult, as_json: bool) -> None:
    """Every line that made no card, grouped by its reason."""
    skips = [skip for extraction in result.extractions for skip in extraction.skipped]
    if as_json:
        for skip in skips:
            click.echo(json.dumps({"source": skip.source, "line": skip.line, "reason": skip.reason, "text": skip.text},
                                  ensure_ascii=False))
        return
    by_reason: dict[str, list[Any]] = {}
    for skip in skips:
        by_reason.setdefault(skip.reason, []).append(skip)
    click.echo(f"{len(skips)} lines made no card, for {len(by_reason)} reasons")
    for reason, found in sorted(by_reason.items(), key=lambda item: (-len(item[1]), item[0])):
        click.echo(f"{reason} ({len(found)}):")
        for skip in found:
            click.echo(f"  {skip.source}:{skip.line}  {_shorten(skip.text)}")


def print_sample(result: BuildResult, size: int, seed: int, no_source: bool, as_json: bool) -> None:
    """Cards drawn with `random.Random(seed)`, printed as the quality rubric's raters get them."""
    cards = [card for note in result.notes for card in preview_cards(note)]
    drawn = random.Random(seed).sample(range(len(cards)), min(size, len(cards)))
    if not as_json:
        click.echo(f"# {len(drawn)} of {len(cards)} cards, seed {seed}")
    for number, index in enumerate(drawn, 1):
        card = cards[index]
        front, back = card_text(card)
        if as_json:
            data: dict[str, object] = {"card": number, "front": front, "back": back}
            if not no_source:
                data.update(source=str(card.note.source), kind=card.note.kind, template=card.template)
            click.echo(json.dumps(data, ensure_ascii=False))
            continue
        where = "" if no_source else f" — {card.note.source} ({card.note.kind})"
        click.echo(f"\n## Card {number}{where}\nFRONT:\n{front}\nBACK:\n{back}")


def _print_report(report: BuildReport) -> None:
    click.echo(f"{report.files} files, {report.notes} notes, {report.cards} cards")
    click.echo("Notes per kind:")
    for kind, count in report.notes_by_kind.items():
        click.echo(f"  {kind:<12} {count}")
    click.echo("Notes per service:")
    for service, count in report.notes_by_service.items():
        click.echo(f"  {service:<40} {count}")
    bold = report.bold_covered / report.bold_spans if report.bold_spans else 1.0
    definitions = report.definition_covered / report.definition_lines if report.definition_lines else 1.0
    click.echo(f"Coverage: bold spans {report.bold_covered}/{report.bold_spans} ({bold:.1%}), "
               f"definition lines {report.definition_covered}/{report.definition_lines} ({definitions:.1%})")
    if report.quality is not None:  # on a card, or in no card for a reason `--skipped` gives
        click.echo(f"Accounted for: bold spans {report.quality.bold_accounted_share:.1%}, "
                   f"definition lines {report.quality.definition_accounted_share:.1%}")
    click.echo("Lines without a card, by reason:")
    for reason, count in report.skipped.items():
        click.echo(f"  {reason:<28} {count}")
    quality = report.quality
    if quality is not None:
        click.echo("Facts per pattern:")
        for pattern, count in quality.facts_by_pattern.items():
            click.echo(f"  {pattern or '(none)':<28} {count}")
        if quality.uncovered:
            click.echo(f"Bold spans and definition lines in no card: {len(quality.uncovered)}")
        for where in quality.uncovered[:10]:
            click.echo(f"  {where}")
    click.echo(f"Facts whose service could not be resolved: {len(report.unresolved)}")
    for where in report.unresolved[:20]:
        click.echo(f"  {where}")


def _shorten(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
