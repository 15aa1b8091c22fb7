"""The embedded tiny model: its configs agree with each other and with the shipped weights, and the demo config
(`make demo`) generates a real short video on CPU with the shipped checkpoint (2 s here; 60 s in the demo)."""
import json
from pathlib import Path

import numpy as np
import pytest

from opensora.utils.config import load_config, to_dict
from opensora.utils.video_io import read_video

from .helpers import ROOT, run_inference

CONFIGS = ROOT / "configs" / "pavdm"
DEMO = CONFIGS / "infer_60s_tiny.py"
VARIANTS = ["infer_60s_tiny.py", "infer_60s_tiny_rn.py", "infer_60s_tiny_rw.py", "infer_60s_tiny_ad.py"]
SHIPPED = ROOT / "checkpoints" / "tiny"


def _resolved(vae):
    """A VAE config with its weights path resolved (the training and inference configs reach the same folder
    from different directories); ``random_phase`` is a training-only augmentation of the ring VAE and
    ``seam_frames`` a decoding-only option."""
    vae = dict(to_dict(vae), from_pretrained=str(Path(vae.from_pretrained).resolve()))
    for key in ("random_phase", "seam_frames"):
        vae.pop(key, None)
    return vae


@pytest.mark.parametrize("name", VARIANTS)
def test_inference_configs_use_the_training_levels_and_networks(name):
    # the shipped weights are the EMA of train_tiny_ring.py (the ring stage, README: "Embedded tiny model")
    train, infer = load_config(CONFIGS / "train_tiny_ring.py"), load_config(CONFIGS / name)
    assert to_dict(infer.scheduler) == to_dict(train.scheduler)
    assert _resolved(infer.vae) == _resolved(train.vae) and to_dict(infer.text_encoder) == to_dict(train.text_encoder)
    assert train.vae.random_phase and not infer.vae.get("random_phase", False)
    assert infer.vae.seam_frames == 8  # every method decodes the same way (README: "Embedded tiny model")
    model = dict(to_dict(train.model), from_pretrained=infer.model.from_pretrained)
    assert to_dict(infer.model) == model
    assert infer.model.in_channels == infer.vae.latent_channels
    assert (infer.model.caption_channels, infer.model.model_max_length) == (infer.text_encoder.dim,
                                                                            infer.text_encoder.model_max_length)
    assert tuple(infer.image_size) == tuple(train.dataset.image_size)
    window = (train.objective.num_noisy_chunks + 1) * 17  # clean context chunk + K noisy chunks
    assert train.buckets[0][0] == window
    assert infer.schedule.get("window_frames", infer.schedule.get("clip_frames")) == window


def test_shipped_weights_are_small_safetensors_that_the_configs_find():
    files = sorted(SHIPPED.rglob("*"))
    weights = [p for p in files if p.is_file() and p.suffix == ".safetensors"]
    assert {p.parent.name for p in weights} == {"stdit3", "vae"}
    assert sum(p.stat().st_size for p in files if p.is_file()) < 30 * 2 ** 20
    cfg = load_config(DEMO)
    assert Path(cfg.model.from_pretrained).resolve() == (SHIPPED / "stdit3" / "model.safetensors").resolve()
    assert Path(cfg.vae.from_pretrained).resolve() == (SHIPPED / "vae").resolve()


def test_demo_config_generates_two_seconds_with_the_shipped_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the config finds the shipped weights from any working directory
    paths = run_inference(DEMO, "--num-frames", "2s", "--save-dir", tmp_path / "out", "--cfg-options",
                          "progress=False")
    video = read_video(paths[0])
    assert video.shape == (48, 64, 96, 3)
    info = json.loads(paths[0].with_suffix(".json").read_text())
    assert info["prompt"][0][0] == load_config(DEMO).prompt[0]
    assert info["model_calls"] == 24 + 2 * 8  # initialization, then one shift per emitted chunk (3 chunks)
    # a trained model draws the synthetic world: a sky above the ground, not noise or a flat frame
    frames = video.astype(np.float64)
    assert frames.std() > 10
    rows = frames.mean(axis=(0, 2, 3))
    assert abs(rows[:16].mean() - rows[-16:].mean()) > 10  # sky and ground differ
    temporal = np.abs(np.diff(frames, axis=0)).mean()
    assert temporal < 40  # consecutive frames are related (pure noise frames differ by ~85 on average)


# issue 10's targets for the shipped model: no 6-Hz flicker, and the prompted pan (both directions)
SEAM_MAX, SEAM_RATIO_MAX, SHIFT_ERROR_MAX = 2.5, 2.5, 0.3
PANS = ["a camera pans left steadily over green hills under a blue sky with trees",
        "a camera pans right steadily over sand dunes under a pale sky with houses"]


@pytest.fixture(scope="module")
def pans(tmp_path_factory):
    out = tmp_path_factory.mktemp("pans")
    return run_inference(DEMO, "--num-frames", "4s", "--save-dir", out, "--batch-size", "2", "--prompt", *PANS,
                         "--cfg-options", "progress=False")


@pytest.fixture(scope="module")
def measured(pans):
    """Per pan video, measured once: its seam values, mean horizontal shift, prompted shift and frame differences."""
    from tools.eval.clips import measure_frames
    from tools.eval.ground_truth import load_ground_truth
    from tools.eval.seams import load_layout, seam_values

    out = []
    for path in pans:
        series = measure_frames(list(read_video(path)))
        truth = load_ground_truth(path, width=96, height=64)
        out.append((seam_values(series.frame_diff, load_layout(path)), float(np.nanmean(series.shift[:, 0])),
                    truth.dx, series.frame_diff))
    return out


@pytest.mark.parametrize("index", [0, 1])
def test_shipped_model_pans_as_prompted(measured, index):
    """4 s of the demo config pan the prompt's way at its speed (1 px/frame): the mean over all consecutive frame
    pairs, chunk boundaries included, so a model that replays its context chunk and jumps back fails (pan stage B
    measured 0.78-0.89 px/frame off)."""
    _, dx, prompted, _ = measured[index]
    assert abs(dx - prompted) <= SHIFT_ERROR_MAX, f"measured pan {dx:.2f} px/frame, prompted {prompted}"


@pytest.mark.parametrize("index", [0, 1])
def test_shipped_model_seam_ratio(measured, index):
    """The jump at chunk boundaries relative to the other frames (with the chunk VAEs only chunk boundaries can
    jump; the first model's 6-Hz flicker had a ratio of ~10, the 256-wide chunk-VAE model ~3.5)."""
    seams = measured[index][0]
    assert seams["seam_ratio"] <= SEAM_RATIO_MAX, seams
    # the decoder's seam_frames blending (configs/pavdm/infer_60s_tiny.py) continues every chunk from the previous
    # one: measured 1.00 / 1.01; without it 1.91 / 1.98
    assert seams["seam_ratio"] <= 1.3, seams


@pytest.mark.xfail(strict=True, reason="issue 10: with seam_frames=8 the chunk boundaries differ by ~2.9 (0-255), as "
                   "much as every other frame pair of these 1 px/frame pans (ratio ~1.0), above the target 2.5; the "
                   "ground truth's frame difference at 1 px/frame is 2.3-2.5 (README 'Embedded tiny model')")
@pytest.mark.parametrize("index", [0, 1])
def test_shipped_model_raw_seam(measured, index):
    """The raw frame difference at chunk boundaries stays within issue 10's target of 2.5 (0-255)."""
    seams = measured[index][0]
    assert seams["seam_diff"] <= SEAM_MAX, seams


@pytest.mark.parametrize("index", [0, 1])
def test_shipped_model_does_not_jump_inside_chunks(measured, index):
    """The 6-Hz flicker of the first shipped model (a jump every 4 frames, at the starts of the latent groups 1-4,
    5-8, 9-12, 13-16 of each chunk: 11.5-13.4 against 0.7-1.8 elsewhere) must not come back: at those offsets the
    frame difference stays within 1.5x that of the other frames inside a chunk (the chunk boundary excluded)."""
    d = measured[index][3]
    offset = np.arange(len(d)) % 17
    group_starts = np.isin(offset, [1, 5, 9, 13]) & (np.arange(len(d)) >= 1)
    inside = ~np.isin(offset, [0, 1, 5, 9, 13])
    ratio = np.nanmean(d[group_starts]) / np.nanmean(d[inside])
    assert ratio <= 1.5, f"frame difference at 4-frame group starts / elsewhere = {ratio:.2f} (6-Hz flicker)"
