"""tools.eval.seams: the latent / chunk / clip boundary jump on videos with known jumps, and where the layout
comes from (the VAE's latent groups, the plan's clip starts, the inference sidecar)."""
import json

import numpy as np
import pytest
import torch

from opensora.models.vae.pca_vae import PCAVideoVAE
from opensora.schedulers.noise_schedules import pa_inference_schedule, replacement_schedule
from tools.eval.clips import measure_frames
from tools.eval.evaluate import evaluate_video
from tools.eval.seams import SEAM_METRICS, SeamLayout, load_layout, seam_values
from tools.synthetic import Caption, World, WorldSpec, write_mp4

LATENT_JUMP, CHUNK_JUMP, CLIP_JUMP = 6.0, 12.0, 20.0


def _ramp_frames(num_frames: int, clip_starts=()):
    """Flat grey frames whose value rises by 1 per frame, plus known jumps where a latent, chunk or clip
    starts; returns the frames and, independently of tools.eval, the expected |d| of every pair t."""
    value, frames, expected = 10.0, [], {}
    for t in range(num_frames):
        step = 1.0
        if t >= 1 and t % 17 in (1, 5, 9, 13):
            step += LATENT_JUMP
        if t >= 1 and t % 17 == 0:
            step += CHUNK_JUMP
        if t in clip_starts:
            step += CLIP_JUMP
        if t >= 1:
            value += step
            expected[t] = step
        assert value < 255, "the ramp must not clip"
        frames.append(np.full((16, 24, 3), value, dtype=np.uint8))
    return frames, expected


def test_known_jumps_give_the_known_seam_values():
    frames, expected = _ramp_frames(68, clip_starts=(51,))
    series = measure_frames(frames)
    values = seam_values(series.frame_diff, SeamLayout(clip_start_frames=(51,)))
    latent = [expected[t] for t in expected if t % 17 in (0, 1, 5, 9, 13)]
    chunk = [expected[t] for t in expected if t % 17 == 0]
    assert values["seam_diff"] == pytest.approx(np.mean(latent))
    assert values["seam_ratio"] == pytest.approx(np.mean(latent) / 1.0)  # every other pair moves by exactly 1
    assert values["chunk_seam_diff"] == pytest.approx(np.mean(chunk))
    assert values["clip_seam_diff"] == pytest.approx(1 + CHUNK_JUMP + CLIP_JUMP)
    assert values["clip_seam_ratio"] == pytest.approx(1 + CHUNK_JUMP + CLIP_JUMP)


def test_a_clip_counts_only_its_own_pairs_and_no_clip_boundary_is_nan():
    frames, expected = _ramp_frames(68)
    d = measure_frames(frames).frame_diff
    inside = seam_values(d, SeamLayout(), start=2, stop=17)  # pairs t = 3..16: latent starts 5, 9, 13 only
    assert inside["seam_diff"] == pytest.approx(1 + LATENT_JUMP) and inside["seam_ratio"] == pytest.approx(7.0)
    assert np.isnan(inside["chunk_seam_diff"]) and np.isnan(inside["clip_seam_diff"])
    smooth = seam_values(np.r_[np.nan, np.full(67, 2.0)], SeamLayout())
    assert smooth["seam_ratio"] == pytest.approx(1.0) and smooth["seam_diff"] == pytest.approx(2.0)


def test_layout_rejects_offsets_outside_a_chunk():
    with pytest.raises(ValueError, match="outside a 17-frame chunk"):
        SeamLayout(latent_starts=(0, 17))


def test_pca_vae_latent_starts_are_where_its_groups_begin():
    vae = PCAVideoVAE(latent_channels=4, patch_size=2)
    # frame i filled with the value i: each group's smallest value is its first real frame (padding repeats 0)
    chunk = torch.arange(17.0).reshape(1, 1, 17, 1, 1).expand(1, 3, 17, 2, 2)
    groups = vae.to_groups(chunk)[0, :, 0, 0]  # (5 latents, 3 * 4 * 2 * 2)
    firsts = [int(g.min()) for g in groups]
    assert vae.latent_frame_starts() == firsts == [0, 1, 5, 9, 13]


def test_plans_know_their_clip_boundaries():
    pa = pa_inference_schedule(12, ratio=1.0, chunk_size=5, num_noisy_chunks=3, num_steps=24, num_ref_chunks=0)
    assert pa.clip_starts() == [], "PA denoises neighbouring chunks together"
    pa_ref = pa_inference_schedule(12, ratio=1.0, chunk_size=5, num_noisy_chunks=3, num_steps=24, num_ref_chunks=1)
    assert pa_ref.clip_starts() == [1], "only the first generated chunk after the reference"
    rn = replacement_schedule(12, ratio=1.0, clip_latents=20, context_latents=5, chunk_size=5, num_steps=24,
                              context_mode="clean")
    assert rn.clip_starts() == [4, 7, 10], "4-chunk clips, each new clip after 1 chunk of context"


def test_evaluate_reads_the_sidecar_layout_and_scores_a_flickering_pan(tmp_path):
    spec = WorldSpec(Caption("left", "slowly", "day", "houses"), seed=1)
    smooth = list(World(spec).frames(68))
    flicker = [np.clip(f.astype(np.int16) + (10 if (t % 17 in (1, 2, 3, 4, 9, 10, 11, 12)) else 0), 0, 255)
               .astype(np.uint8) for t, f in enumerate(smooth)]  # +10 on every other latent group
    write_mp4(tmp_path / "smooth.mp4", smooth, fps=24)
    write_mp4(tmp_path / "flicker.mp4", flicker, fps=24)
    (tmp_path / "flicker.json").write_text(json.dumps(
        {"prompt": [[spec.caption.text, 0.0]], "seams": {"chunk_frames": 17, "latent_starts": [0, 1, 5, 9, 13],
                                                         "clip_start_frames": [34]}}))
    assert load_layout(tmp_path / "smooth.mp4") == SeamLayout()
    assert load_layout(tmp_path / "flicker.mp4").clip_start_frames == (34,)
    ok, bad = evaluate_video(tmp_path / "smooth.mp4"), evaluate_video(tmp_path / "flicker.mp4")
    assert 0.6 < ok["summary"]["seam_ratio"] < 1.6 and ok["summary"]["seam_diff"] < 2.5
    assert bad["summary"]["seam_ratio"] > 3 and 7 < bad["summary"]["seam_diff"] < 13
    assert bad["summary"]["clip_seam_diff"] > 0 and np.isnan(ok["summary"]["clip_seam_diff"])
    assert set(SEAM_METRICS) <= set(bad["clips"][0])
