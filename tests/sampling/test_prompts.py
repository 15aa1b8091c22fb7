"""Prompt entries, prompt files, references and timelines (opensora/utils/prompts.py)."""
import pytest

from opensora.sampling.conditioning import chunk_texts
from opensora.sampling.prompts import PromptFormatError, Segment, load_prompts, parse_prompt, read_prompt_file


def test_plain_reference_and_timeline():
    assert parse_prompt("a red fox").segments == (Segment("a red fox", 0.0),)
    item = parse_prompt("a red fox||clips/fox.mp4")
    assert item.text == "a red fox" and item.reference == "clips/fox.mp4"
    item = parse_prompt("a fox|0| a fox jumps|20|")
    assert item.segments == (Segment("a fox", 0.0), Segment("a fox jumps", 20.0)) and item.reference is None
    item = parse_prompt("a fox|0| jumps|2.5|||fox.mp4")
    assert item.segments[1] == Segment("jumps", 2.5) and item.reference == "fox.mp4"


def test_json_timeline():
    a = parse_prompt('[["a fox", 0], ["jumps", 20]]')
    b = parse_prompt('[{"text": "a fox", "start": 0}, {"text": "jumps", "start": 20}]')
    assert a.segments == b.segments == (Segment("a fox", 0.0), Segment("jumps", 20.0))


def test_text_at_and_chunk_texts():
    item = parse_prompt("a|0| b|1|")
    assert [item.text_at(s) for s in (0, 0.99, 1.0, 30)] == ["a", "a", "b", "b"]
    # 17-frame chunks at 24 fps start at 0, 0.708, 1.417 s: the change applies from chunk 2 on
    assert chunk_texts([item], 4, 17 / 24) == [["a", "a", "b", "b"]]


@pytest.mark.parametrize("entry,needle", [
    ("a|0| b|x|", "not a number"),
    ("a|0| b|20", "malformed timeline"),
    ("a|5| b|20|", "must start at 0"),
    ("a|0| b|0|", "must increase"),
    ("a|0| |20|", "empty prompt text"),
    ("a fox||", "nothing after"),
    ("[[1, 2]]", "JSON timeline items"),
    ("[oops", "invalid JSON"),
])
def test_errors(entry, needle):
    with pytest.raises(PromptFormatError, match=needle):
        parse_prompt(entry)


def test_prompt_file_line_numbers_and_paths(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")
    path = tmp_path / "prompts.txt"
    path.write_text("first prompt\n\nsecond||clip.mp4\n")
    items = read_prompt_file(path)
    assert [i.text for i in items] == ["first prompt", "second"]
    assert items[1].reference == str(clip) and items[1].source == f"{path}:3"
    path.write_text("fine\nalso fine\nbad|0| worse|x|\n")
    with pytest.raises(PromptFormatError, match=r"prompts.txt:3: .*not a number"):
        read_prompt_file(path)


def test_load_prompts_references():
    items = load_prompts(["a", "b||own.mp4"], reference_path=["shared.mp4"])
    assert [i.reference for i in items] == ["shared.mp4", "own.mp4"]
    with pytest.raises(ValueError, match="2 reference paths for 3 prompts"):
        load_prompts(["a", "b", "c"], reference_path=["x.mp4", "y.mp4"])
    with pytest.raises(ValueError, match="no prompts"):
        load_prompts(None, None)
