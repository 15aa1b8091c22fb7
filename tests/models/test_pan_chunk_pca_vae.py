"""PanChunkPCAVideoVAE: the pan speed estimate and the canvas geometry against closed-form pans (frames rendered
from a sum of sinusoids at x - v t, no interpolation), the latent layout, a fitted round trip, partial chunks,
errors and save / strict load."""
import math

import pytest
import torch

from opensora.models.vae import ChunkPCAVideoVAE, PanChunkPCAVideoVAE
from opensora.models.vae.pan_chunk_pca_vae import estimate_pan_speed, shift_columns
from opensora.models.vae.pca_vae import PCAStats, fit_pca
from opensora.registry import MODELS, build_module

# small sizes: 9-frame chunks of 5 latents (2 frames each, the first 1), 4-px cells, 4 channels, 8-px margin
SIZES = dict(latent_channels=4, patch_size=4, time_factor=2, micro_frame_size=9, margin=8)


def _world(x: torch.Tensor, y: torch.Tensor, seed: int) -> torch.Tensor:
    """A smooth 'landscape' (3, H, W) at fractional columns x (W,) and rows y (H,): sums of sinusoids, in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(3, y.numel(), x.numel(), dtype=torch.float64)
    for _ in range(6):
        fx = float(torch.rand(1, generator=g)) * 0.5 + 0.05  # rad/px, below the sampling limit
        fy = float(torch.rand(1, generator=g)) * 0.3
        amp = torch.rand(3, 1, 1, generator=g, dtype=torch.float64) * 0.15
        ph = float(torch.rand(1, generator=g)) * 2 * math.pi
        out += amp * torch.sin(fx * x[None, None, :] + fy * y[None, :, None] + ph)
    return out.clamp(-1, 1)


def _pan(speed: float, frames: int = 9, h: int = 8, w: int = 16, seed: int = 0, start: float = 0.0) -> torch.Tensor:
    """(1, 3, frames, h, w): frame t column x shows world column x - speed (start + t), exactly."""
    xs, ys = torch.arange(w, dtype=torch.float64), torch.arange(h, dtype=torch.float64)
    return torch.stack([_world(xs - speed * (start + t), ys, seed) for t in range(frames)], dim=1)[None]


@pytest.mark.parametrize("speed", [-2.0, -0.7, 0.0, 0.5, 1.3, 2.0])
def test_speed_estimate_matches_a_closed_form_pan(speed):
    x = _pan(speed, frames=17, h=16, w=48, seed=3)
    v = estimate_pan_speed(x, max_speed=2.5, step=1 / 32)
    assert abs(float(v[0]) - speed) < 0.01


def test_shift_columns_is_exact_at_whole_pixels_and_close_in_between():
    img = _world(torch.arange(32, dtype=torch.float64), torch.arange(4, dtype=torch.float64), 1)[None]
    out = shift_columns(img, torch.tensor([5.0], dtype=torch.float64), 20)
    torch.testing.assert_close(out[0], img[0, :, :, 5:25])
    half = shift_columns(img, torch.tensor([5.5], dtype=torch.float64), 20)[0]
    truth = _world(torch.arange(20, dtype=torch.float64) + 5.5, torch.arange(4, dtype=torch.float64), 1)
    assert (half - truth).abs().max() < 5e-3


def test_decoded_frames_sample_the_canvas_along_the_pan():
    """Frame t column x = canvas column M + x - v (t - c); with an integer speed this is an exact slice."""
    vae = PanChunkPCAVideoVAE(**SIZES).double()
    canvas = _world(torch.arange(32, dtype=torch.float64), torch.arange(8, dtype=torch.float64), 2)
    canvas = canvas[:, None].expand(3, 9, 8, 32)[None]  # (1, 3, 9, 8, 16 + 2 * 8), still
    frames = vae.from_canvas(canvas, torch.tensor([1.0], dtype=torch.float64), 9)
    assert frames.shape == (1, 3, 9, 8, 16)
    for t in range(9):
        u0 = 8 - (t - 4)  # M + 0 - v (t - c)
        torch.testing.assert_close(frames[0, :, t], canvas[0, :, t, :, u0:u0 + 16])


def test_canvas_round_trip_of_a_pan_and_the_still_canvas():
    vae = PanChunkPCAVideoVAE(**SIZES).double()
    x = _pan(1.5, seed=4)
    speed = torch.tensor([1.5], dtype=torch.float64)
    canvas = vae.to_canvas(x, speed)
    assert canvas.shape == (1, 3, 9, 8, 32)
    # a pan of a still world is a still canvas where the frames see it: every frame equals the world at u - M + v c
    truth = _world(torch.arange(32, dtype=torch.float64) - 8 - 1.5 * 4, torch.arange(8, dtype=torch.float64), 4)
    seen = slice(8 - 6, 8 + 16 + 6 - 1)  # columns seen by some frame: |v (t - c)| <= 6
    err = (canvas[0, :, :, :, seen] - truth[:, None, :, seen]).abs()
    assert err.mean() < 2e-3 and err.max() < 0.03  # the largest where a frame's edge pixel is interpolated
    assert (vae.from_canvas(canvas, speed, 9) - x).abs().mean() < 2e-3


def _fitted(seeds=range(6)) -> PanChunkPCAVideoVAE:
    vae = PanChunkPCAVideoVAE(**SIZES).double()
    stats = PCAStats(vae.group_dim)
    for seed in seeds:
        for speed in (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0):
            stats.update(vae.fit_groups(_pan(speed, seed=seed)))
    vae.load_fit({k: (v.double() if torch.is_tensor(v) else v) for k, v in fit_pca(stats, vae.num_components).items()})
    return vae


def test_latent_layout_sizes_and_fitted_round_trip():
    vae = _fitted()
    assert vae.num_components == 5 * (4 - 1)
    assert vae.get_latent_size([18, 8, 16]) == [10, 2, 4 + 4]
    x = torch.cat([_pan(-1.25, seed=9), _pan(-1.25, seed=9, start=9)], dim=2)  # 18 frames = 2 chunks, held out
    z = vae.encode(x)
    assert z.shape == (1, 4, 10, 2, 8)
    # the last channel of every latent and cell is v / velocity_scale; the rest is the canvas basis
    torch.testing.assert_close(z[:, -1], torch.full((1, 10, 2, 8), -1.25 / vae.velocity_scale, dtype=torch.float64),
                               atol=0.02, rtol=0)
    torch.testing.assert_close(vae.decode_speed(z[:, :, 5:]), torch.tensor([-1.25], dtype=torch.float64),
                               atol=0.01, rtol=0)
    rec = vae.decode(z, 18)
    assert rec.shape == x.shape
    assert float((rec - x).pow(2).mean()) < 0.05 * float(x.var())


def test_decode_reads_the_speed_from_the_latent():
    """Changing only the speed number makes the decoded chunk pan at the new speed over the same canvas."""
    vae = _fitted()
    z = vae.encode(_pan(0.5, seed=11))
    z2 = z.clone()
    z2[:, -1] = 2.0 / vae.velocity_scale
    frames = vae.decode(z2, 9)
    v = estimate_pan_speed(frames, vae.max_speed, vae.speed_step)
    assert abs(float(v[0]) - 2.0) < 0.05


def test_partial_chunks_keep_their_speed_and_sizes():
    vae = _fitted()
    x = _pan(1.0, frames=13, seed=12)  # 9 + 4 frames: the second chunk has 2 latents
    z = vae.encode(x)
    assert z.shape[2] == 5 + 2
    assert abs(float(vae.decode_speed(z[:, :, 5:])[0]) - 1.0) < 0.02
    rec = vae.decode(z, 13)
    assert rec.shape == x.shape
    v = estimate_pan_speed(rec[:, :, 9:], vae.max_speed, vae.speed_step)
    assert abs(float(v[0]) - 1.0) < 0.05


def test_still_video_has_zero_speed_and_the_frame_inside_its_canvas():
    """With no pan the speed channel is 0, the canvas is the frame itself between the margins, and the basis has
    one component per latent fewer than the chunk basis (the speed channel)."""
    vae = _fitted()
    still = _pan(0.0, seed=13)
    z = vae.encode(still)
    assert float(z[:, -1].abs().max()) < 1e-6
    chunk = ChunkPCAVideoVAE(**{k: v for k, v in SIZES.items() if k != "margin"}).double()
    assert chunk.num_components == vae.num_components + 5
    canvas = vae.to_canvas(still, torch.zeros(1, dtype=torch.float64))
    torch.testing.assert_close(canvas[..., 8:24], still)


def test_errors_and_registry():
    with pytest.raises(ValueError, match="multiple of patch_size"):
        PanChunkPCAVideoVAE(**{**SIZES, "margin": 6})
    with pytest.raises(ValueError, match="velocity_scale"):
        PanChunkPCAVideoVAE(**SIZES, velocity_scale=0)
    vae = build_module(dict(type="PanChunkPCAVideoVAE", **SIZES), MODELS)
    with pytest.raises(ValueError, match="loss type 'latent'"):
        vae.pixel_metric()
    with pytest.raises(ValueError, match="canvas adds"):
        vae.decode_chunk(torch.zeros(1, 4, 5, 2, 4))
    assert vae.time_varying_fraction().shape == (5, 4)
    assert float(vae.time_varying_fraction()[:, -1].abs().max()) == 0.0


def test_save_and_strict_load(tmp_path):
    vae = _fitted()
    vae.float().save_pretrained(tmp_path / "pan")
    again = PanChunkPCAVideoVAE(from_pretrained=str(tmp_path / "pan"), **SIZES)
    x = _pan(1.0, seed=14).float()
    torch.testing.assert_close(again.encode(x), vae.encode(x))
    import json
    arch = json.loads((tmp_path / "pan" / "config.json").read_text())
    assert arch["architectures"] == ["PanChunkPCAVideoVAE"] and arch["margin"] == 8
