"""Prompts for inference: ``--prompt`` strings, prompt files, references and multi-prompt timelines.

One prompt entry (a ``--prompt`` value or one line of a ``--prompt-path`` file) is one of:

=================================  ================================================================
``a red fox in the snow``          a plain prompt for the whole video
``a red fox||clips/fox.mp4``       a prompt with a reference clip (or image) to extend; the path
                                   is relative to the working directory, else to the prompt file
``a fox|0| a fox jumps|20|``       a timeline: ``text|start second|`` pairs; the first starts at 0
``[["a fox", 0], ["jumps", 20]]``  the same timeline as JSON (``{"text": ..., "start": ...}`` items too)
``a fox|0| jumps|20|||fox.mp4``    a timeline with a reference
=================================  ================================================================

Blank lines in a prompt file are skipped. Errors name the file and line.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

REFERENCE_SEP = "||"


class PromptFormatError(ValueError):
    """A prompt entry that cannot be parsed; the message names where it came from."""


@dataclass(frozen=True)
class Segment:
    text: str
    start: float  # seconds from the start of the video


@dataclass(frozen=True)
class PromptItem:
    """One video's prompt timeline (one segment for a plain prompt) and optional reference path."""

    segments: tuple
    reference: Optional[str] = None
    source: str = ""

    @property
    def text(self) -> str:
        """The prompt as one line (the first segment's text for a timeline), for names and logs."""
        return " | ".join(s.text for s in self.segments)

    def text_at(self, seconds: float) -> str:
        """The prompt in force at ``seconds``: the last segment starting at or before it."""
        current = self.segments[0].text
        for seg in self.segments:
            if seg.start <= seconds + 1e-9:
                current = seg.text
        return current


def _fail(where: str, msg: str) -> PromptFormatError:
    return PromptFormatError(f"{where}: {msg}")


def _check_segments(segments: list, where: str) -> tuple:
    if not segments:
        raise _fail(where, "empty prompt")
    for seg in segments:
        if not seg.text:
            raise _fail(where, f"empty prompt text in the segment starting at {seg.start:g} s")
        if not math.isfinite(seg.start) or seg.start < 0:
            raise _fail(where, f"segment start {seg.start!r} must be a finite number of seconds >= 0")
    if segments[0].start != 0:
        raise _fail(where, f"the first timeline segment must start at 0 s, got {segments[0].start:g} s")
    starts = [s.start for s in segments]
    if any(b <= a for a, b in zip(starts, starts[1:])):
        raise _fail(where, f"timeline starts must increase, got {starts}")
    return tuple(segments)


def _seconds(value: str, where: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise _fail(where, f"{value.strip()!r} is not a number of seconds; a timeline is written "
                           f"'text|0| next text|20|' (each text followed by its start second)") from None


def parse_timeline(text: str, where: str = "prompt") -> tuple:
    """``"a|0| b|20|"`` -> (Segment("a", 0), Segment("b", 20))."""
    parts = text.split("|")
    if len(parts) < 3 or len(parts) % 2 == 0 or parts[-1].strip():
        raise _fail(where, f"malformed timeline {text!r}: write 'text|start|' pairs, e.g. "
                           f"'a fox walks|0| a fox jumps|20|' (every start second closed by '|')")
    segments = [Segment(t.strip(), _seconds(s, where)) for t, s in zip(parts[0:-1:2], parts[1:-1:2])]
    return _check_segments(segments, where)


def _json_segment(item, where: str) -> Segment:
    if isinstance(item, dict) and set(item) == {"text", "start"}:
        item = [item["text"], item["start"]]
    ok = isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)
    if not ok or isinstance(item[1], bool) or not isinstance(item[1], (int, float)):
        raise _fail(where, f"JSON timeline items must be [text, start] or {{\"text\": ..., \"start\": ...}}, "
                           f"got {item!r}")
    return Segment(item[0].strip(), float(item[1]))


def parse_json_timeline(text: str, where: str = "prompt") -> tuple:
    """``'[["a", 0], ["b", 20]]'`` -> segments (see :func:`parse_timeline`)."""
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(where, f"invalid JSON timeline ({exc.msg} at column {exc.colno})") from None
    if not isinstance(items, list):
        raise _fail(where, f"a JSON timeline must be a list, got {type(items).__name__}")
    return _check_segments([_json_segment(i, where) for i in items], where)


def _split_reference(entry: str, where: str) -> tuple:
    if REFERENCE_SEP not in entry:
        return entry, None
    text, ref = entry.rsplit(REFERENCE_SEP, 1)
    if not ref.strip():
        raise _fail(where, f"nothing after '{REFERENCE_SEP}': write 'prompt{REFERENCE_SEP}path/to/clip.mp4'")
    return text, ref.strip()


def parse_prompt(entry: str, where: str = "--prompt") -> PromptItem:
    """Parse one prompt entry (see the module docstring)."""
    text, ref = _split_reference(entry.strip(), where)
    text = text.strip()
    if text.startswith("["):
        segments = parse_json_timeline(text, where)
    elif "|" in text:
        segments = parse_timeline(text, where)
    else:
        segments = _check_segments([Segment(text, 0.0)], where)
    return PromptItem(segments, ref, where)


def _resolve(ref: Optional[str], base: Path) -> Optional[str]:
    if ref is None or Path(ref).expanduser().is_absolute() or Path(ref).exists():
        return ref
    candidate = base / ref
    return str(candidate) if candidate.exists() else ref


def _lines(path: Path) -> list:
    """The lines of a UTF-8 text file; a line that is not UTF-8 is an error naming ``path:line``."""
    lines = []
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise PromptFormatError(f"{path}:{number}: not UTF-8 text (byte {raw[exc.start]:#04x} at column "
                                    f"{exc.start + 1}); save the prompt file as UTF-8") from None
    return lines


def read_prompt_file(path) -> list:
    """Parse every non-blank line of ``path``; errors name ``path:line``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prompt file {path} does not exist; pass --prompt-path FILE (one prompt per line)")
    items = []
    for number, line in enumerate(_lines(path), start=1):
        if line.strip():
            item = parse_prompt(line, f"{path}:{number}")
            items.append(PromptItem(item.segments, _resolve(item.reference, path.parent), item.source))
    if not items:
        raise PromptFormatError(f"{path}: no prompts (the file has no non-blank lines)")
    return items


def _attach_references(items: list, references: Sequence[str]) -> list:
    if len(references) not in (1, len(items)):
        raise ValueError(f"got {len(references)} reference paths for {len(items)} prompts; give one reference "
                         f"for all prompts or one per prompt (or write 'prompt||clip.mp4')")
    refs = list(references) * (len(items) if len(references) == 1 else 1)
    return [PromptItem(it.segments, it.reference or (r or None), it.source) for it, r in zip(items, refs)]


def load_prompts(prompts: Optional[Sequence[str]] = None, prompt_path=None,
                 reference_path: Optional[Sequence[str]] = None) -> list:
    """The prompt items from ``--prompt`` values or a ``--prompt-path`` file, with ``--reference-path``.

    A ``reference_path`` entry applies to the items without their own ``||`` reference.
    """
    if prompts and prompt_path:
        raise ValueError("give either prompts (--prompt) or a prompt file (--prompt-path), not both")
    if prompt_path:
        items = read_prompt_file(prompt_path)
    elif prompts:
        items = [parse_prompt(p, f"--prompt #{n}") for n, p in enumerate([prompts] if isinstance(prompts, str)
                                                                          else prompts, start=1)]
    else:
        raise ValueError("no prompts: pass --prompt 'text' (or --prompt-path FILE)")
    if isinstance(reference_path, str):
        reference_path = [reference_path]
    return _attach_references(items, reference_path) if reference_path else items
