"""tools.synthetic: caption grammar and splits, deterministic lazy rendering, exact pans, dataset CLI output."""
import csv
import json
import types

import av
import numpy as np
import pytest

from tools.synthetic import (DIRECTIONS, HELDOUT_PAIRS, OBJECT_KINDS, PALETTES, SPEEDS, Caption, World, WorldSpec,
                             all_captions, parse_caption, split_captions)
from tools.synthetic.generate import CSV_HEADER, main, plan_videos


def _world(direction="left", speed="steadily", palette="day", objects="houses", seed=0, **kw):
    return World(WorldSpec(Caption(direction, speed, palette, objects), seed=seed, **kw))


def test_caption_text_round_trips_for_every_caption():
    captions = all_captions()
    assert len(captions) == len(DIRECTIONS) * len(SPEEDS) * len(PALETTES) * len(OBJECT_KINDS)
    assert all(parse_caption(c.text) == c for c in captions)
    assert parse_caption("  A camera pans LEFT slowly over green hills under a blue sky with trees ") == \
        Caption("left", "slowly", "day", "trees")


@pytest.mark.parametrize("text", ["a camera pans up slowly over green hills under a blue sky with trees",
                                  "a dog runs", ""])
def test_parse_caption_rejects_text_outside_the_grammar(text):
    with pytest.raises(ValueError, match="grammar"):
        parse_caption(text)


def test_caption_rejects_unknown_field_value():
    with pytest.raises(ValueError, match="palette='mars'"):
        Caption("left", "slowly", "mars", "trees")


def test_splits_partition_the_grammar_and_heldout_pairs_are_unseen_in_training():
    train, heldout = split_captions("train"), split_captions("heldout")
    assert set(train).isdisjoint(heldout) and set(train) | set(heldout) == set(all_captions())
    assert {(c.palette, c.objects) for c in heldout} == set(HELDOUT_PAIRS)
    assert not {(c.palette, c.objects) for c in train} & HELDOUT_PAIRS
    for field, values in (("direction", DIRECTIONS), ("speed", SPEEDS), ("palette", tuple(PALETTES)),
                          ("objects", OBJECT_KINDS)):
        assert {getattr(c, field) for c in train} == set(values), f"every {field} value must occur in training"


def test_same_seed_gives_identical_frames_and_different_seeds_differ():
    a = np.stack(list(_world(seed=7).frames(6)))
    b = np.stack(list(_world(seed=7).frames(6)))
    c = np.stack(list(_world(seed=8).frames(6)))
    assert a.shape == (6, 64, 96, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 5


def test_frames_stream_lazily_and_any_frame_renders_on_its_own():
    world = _world(palette="night", objects="balloons", seed=3)
    stream = world.frames(1440)
    assert isinstance(stream, types.GeneratorType)
    for _ in range(3):
        frame = next(stream)
    np.testing.assert_array_equal(frame, world.render(2))
    np.testing.assert_array_equal(world.render(1000), next(world.frames(1, start=1000)))


@pytest.mark.parametrize("direction,speed,shift", [("left", "steadily", 1), ("right", "steadily", -1),
                                                   ("left", "quickly", 2), ("right", "quickly", -2)])
def test_pan_moves_the_whole_frame_by_the_caption_speed(direction, speed, shift):
    world = _world(direction, speed, palette="sunset", objects="trees", seed=5)
    f0, f1 = world.render(10).astype(int), world.render(11).astype(int)
    moved = f1[:, shift:] - f0[:, :-shift] if shift > 0 else f1[:, :shift] - f0[:, -shift:]
    assert np.abs(moved).max() <= 1  # only rounding differs: every layer is pinned to the world
    assert np.abs(f1 - f0).mean() > 1  # and the frame did change


def test_world_spec_rejects_odd_sizes():
    with pytest.raises(ValueError, match="even"):
        WorldSpec(Caption("left", "slowly", "day", "trees"), seed=0, width=95)


def test_plan_is_deterministic_prefix_stable_and_uses_the_split():
    short, long = plan_videos("heldout", 5, 1.0, seed=0), plan_videos("heldout", 40, 1.0, seed=0)
    assert short == long[:5] == plan_videos("heldout", 5, 1.0, seed=0)
    assert {j.spec.caption for j in long} == set(split_captions("heldout"))
    assert plan_videos("heldout", 5, 1.0, seed=1) != short
    assert len({j.spec.seed for j in long}) == 40


def test_cli_writes_readable_mp4s_csv_and_sidecars(tmp_path):
    csv_path = main(["--out", str(tmp_path), "--split", "heldout", "--num-videos", "2", "--seconds", "0.5",
                     "--seed", "0", "--no-progress"])
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_HEADER and len(rows) == 2
    for i, row in enumerate(rows):
        assert (row["num_frames"], row["height"], row["width"], row["fps"]) == ("12", "64", "96", "24")
        with av.open(row["path"]) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert len(frames) == 12 and frames[0].shape == (64, 96, 3)
        truth = json.loads((tmp_path / f"heldout_{i:05d}.json").read_text())
        assert truth["caption"] == row["text"] and truth["split"] == "heldout"
        caption = parse_caption(row["text"])
        assert truth["dx_px_per_frame"] == caption.dx_px_per_frame
        rendered = World(WorldSpec(caption, seed=truth["seed"])).render(5).astype(int)
        assert np.abs(frames[5].astype(int) - rendered).mean() < 4  # the mp4 holds what the world renders
