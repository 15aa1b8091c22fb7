"""tools.eval: every metric on videos with known answers, scene cuts, ground-truth errors, the CLI outputs."""
import csv
import json

import numpy as np
import pytest

from tools.eval import clip_bounds, clip_table, detect_cuts, laplacian_variance, measure_frames, phase_shift, to_gray
from tools.eval.clips import CLIP_METRICS
from tools.eval.evaluate import EvalOptions, evaluate_video, main, run
from tools.eval.ground_truth import GT_METRICS
from tools.eval.seams import SEAM_METRICS
from tools.synthetic import Caption, World, WorldSpec, write_mp4
from tools.synthetic.generate import VideoJob, ground_truth


def _spec(direction="left", speed="steadily", palette="day", objects="houses", seed=0):
    return WorldSpec(Caption(direction, speed, palette, objects), seed=seed)


def _write(path, frames, spec=None):
    frames = list(frames)
    write_mp4(path, frames, fps=24)
    if spec is not None:
        path.with_suffix(".json").write_text(json.dumps(ground_truth(VideoJob(path.stem, spec, len(frames)))))
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    left, right = _spec("left", "steadily"), _spec("right", "slowly", "night", "balloons", seed=4)
    still = World(_spec()).render(0)
    cut = [*World(left).frames(48), *World(_spec("right", "quickly", "desert", "trees", seed=9)).frames(48)]
    return {"static": _write(d / "static.mp4", [still] * 48),
            "pan_left": _write(d / "pan_left.mp4", World(left).frames(96), left),
            "pan_right": _write(d / "pan_right.mp4", World(right).frames(48), right),
            "cut": _write(d / "cut.mp4", cut)}


def test_phase_shift_finds_integer_shifts_with_the_documented_sign():
    rng = np.random.default_rng(0)
    img = np.cumsum(np.cumsum(rng.normal(size=(64, 96)), 0), 1)  # smooth, textured
    assert phase_shift(img, np.roll(img, (-2, 3), axis=(0, 1))) == pytest.approx((3.0, -2.0), abs=0.05)
    assert phase_shift(img, img) == (0.0, 0.0)
    assert phase_shift(np.full((64, 96), 7.0), np.full((64, 96), 9.0)) == (0.0, 0.0)


@pytest.mark.parametrize("speed,grid_bias", [("slowly", True), ("steadily", True), ("quickly", False)])
def test_phase_shift_sees_the_pan_through_the_vae_cell_grid(speed, grid_bias):
    """A pan decoded from 8 x 8-px latent cells (the chunk-basis PCA VAE's reconstruction of ground truth) keeps a
    static grid of cell edges: all frequencies read (nearly) no motion, those below the cell rate the true pan."""
    import torch

    from opensora.registry import MODELS, build_module
    from opensora.utils.config import load_config
    from tools.eval.frame_metrics import MAX_SHIFT_FREQUENCY

    spec = _spec("left", speed, "day", "trees", seed=7)
    frames = np.stack(list(World(spec).frames(34)))
    vae = build_module(load_config("configs/pavdm/train_tiny.py").vae, MODELS)  # the chunk-basis PCA VAE
    x = torch.from_numpy(frames).permute(3, 0, 1, 2)[None].float() / 127.5 - 1
    with torch.no_grad():
        rec = vae.decode(vae.encode(x), 34).clamp(-1, 1)[0].permute(1, 2, 3, 0)
    gray = [to_gray(f) for f in ((rec + 1) * 127.5).round().byte().numpy()]
    pairs = list(zip(gray[:-1], gray[1:]))
    low = np.mean([phase_shift(a, b)[0] for a, b in pairs])
    full = np.mean([phase_shift(a, b, max_frequency=None)[0] for a, b in pairs])
    dx = spec.caption.dx_px_per_frame
    assert MAX_SHIFT_FREQUENCY == 1 / 8
    assert low == pytest.approx(dx, rel=0.15)
    if grid_bias:  # slow pans: the grid's zero shift wins over the content's (2 px/frame outweighs it)
        assert abs(full - dx) > 2 * abs(low - dx), "the static grid biases the full-band estimate"


def test_static_video_has_zero_motion_and_one_scene(videos):
    result = evaluate_video(videos["static"])
    s = result["summary"]
    assert s["motion_px"] < 0.05 and s["dynamic_degree"] == 0.0 and s["frame_diff"] < 0.5
    assert s["frame_consistency"] > 0.999 and s["color_drift"] < 0.5
    assert result["num_scenes"] == 1 and result["num_frames"] == 48 and len(result["clips"]) == 1


@pytest.mark.parametrize("name,dx", [("pan_left", 1.0), ("pan_right", -0.5)])
def test_known_pan_gives_the_known_speed_and_direction(videos, name, dx):
    result = evaluate_video(videos[name])
    assert result["num_scenes"] == 1, "a smooth pan has no scene change"
    for clip in result["clips"]:
        assert clip["shift_dx"] == pytest.approx(dx, abs=0.25)
        assert abs(clip["shift_dy"]) < 0.25 and clip["dynamic_degree"] == 1.0
        assert clip["shift_error"] < 0.25 and clip["direction_ok"] == 1.0
        assert clip["palette_error"] < 15


def test_wrong_palette_or_direction_in_the_truth_gives_large_errors(videos, tmp_path):
    wrong = Caption("right", "steadily", "snow", "houses").text  # pan_left is "left ... day"
    (tmp_path / "pan_left.json").write_text(json.dumps({"caption": wrong}))
    clips = evaluate_video(videos["pan_left"], EvalOptions(scenes=False, gt_dir=str(tmp_path)))["clips"]
    assert all(c["direction_ok"] == 0.0 and c["shift_error"] > 1.5 and c["palette_error"] > 50 for c in clips)


def test_inference_sidecar_timeline_gives_the_truth(videos, tmp_path):
    """scripts/inference.py sidecars store the prompt as a timeline [[text, start_s]]; one segment is a caption."""
    text = Caption("left", "steadily", "day", "houses").text
    (tmp_path / "pan_left.json").write_text(json.dumps({"prompt": [[text, 0.0]]}))
    clips = evaluate_video(videos["pan_left"], EvalOptions(scenes=False, gt_dir=str(tmp_path)))["clips"]
    assert all(c["direction_ok"] == 1.0 and c["shift_error"] < 0.25 for c in clips)
    (tmp_path / "pan_left.json").write_text(json.dumps({"prompt": [[text, 0.0], [text, 5.0]]}))
    with pytest.raises(ValueError, match="2 segments"):
        evaluate_video(videos["pan_left"], EvalOptions(scenes=False, gt_dir=str(tmp_path)))


def test_hard_cut_counts_one_scene_change(videos):
    cuts = detect_cuts(videos["cut"])
    assert len(cuts) == 1 and abs(cuts[0] - 48) <= 2
    assert detect_cuts(videos["pan_left"]) == []


def _pan_frames(n=48):
    return [f.astype(np.float64) for f in World(_spec(speed="quickly", palette="desert")).frames(n)]


def test_sharpness_drops_on_a_blurred_copy():
    frames = _pan_frames(24)
    blurred = [(f + np.roll(f, 1, 0) + np.roll(f, -1, 0) + np.roll(f, 1, 1) + np.roll(f, -1, 1)) / 5 for f in frames]
    sharp = clip_table(measure_frames(np.uint8(f) for f in frames), 24, 24)[0]["sharpness"]
    soft = clip_table(measure_frames(np.uint8(f) for f in blurred), 24, 24)[0]["sharpness"]
    assert soft < 0.5 * sharp
    assert laplacian_variance(np.zeros((8, 8))) == 0.0


def test_color_drift_grows_when_colours_shift():
    base = _pan_frames(96)
    tint = np.array([1.0, -0.5, -0.5])
    drifting = [np.uint8(np.clip(f + t * tint, 0, 255)) for t, f in enumerate(base)]  # +1 red per frame
    table = clip_table(measure_frames(drifting), 24, 24)
    drift = [c["color_drift"] for c in table]
    consistency = [c["first_clip_consistency"] for c in table]
    assert drift[0] == 0.0 and all(np.diff(drift) > 5) and drift[-1] > 50
    assert all(np.diff(consistency) < 0)
    steady = clip_table(measure_frames(np.uint8(f) for f in base), 24, 24)
    assert max(c["color_drift"] for c in steady) < drift[-1] / 5


def test_clip_bounds_slice_in_fixed_clips_and_keep_a_long_remainder():
    assert clip_bounds(96, 48) == [(0, 48), (48, 96)]
    assert clip_bounds(100, 48) == [(0, 48), (48, 96)]
    assert clip_bounds(120, 48) == [(0, 48), (48, 96), (96, 120)]
    assert clip_bounds(10, 48) == [(0, 10)]
    with pytest.raises(ValueError, match="clip_frames"):
        clip_bounds(10, 1)


def test_cli_writes_csv_json_and_plots_per_method(videos, tmp_path):
    folder = videos["pan_left"].parent
    out = tmp_path / "eval"
    main(["--videos", str(folder / "pan_*.mp4"), "--method", "pans", "--videos", str(videos["static"]),
          "--method", "still", "--out", str(out), "--no-progress"])
    doc = json.loads((out / "metrics.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert set(doc["methods"]) == {"pans", "still"} and doc["methods"]["pans"]["summary"]["num_videos"] == 2
    with open(out / "clips.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 + 1 + 1 and set(CLIP_METRICS + GT_METRICS) <= set(rows[0])
    with open(out / "videos.csv") as f:
        assert [r["num_scenes"] for r in csv.DictReader(f)] == ["1", "1", "1"]
    assert {p.stem for p in (out / "plots").glob("*.png")} == set(CLIP_METRICS + SEAM_METRICS + GT_METRICS)


def test_cli_errors_name_the_problem(videos, tmp_path):
    with pytest.raises(ValueError, match="one --method per"):
        run([str(videos["static"]), str(videos["cut"])], ["a"], tmp_path)
    with pytest.raises(FileNotFoundError, match="matches no video"):
        run([str(tmp_path / "missing")], None, tmp_path)
