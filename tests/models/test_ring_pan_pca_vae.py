"""RingPanChunkPCAVideoVAE: the ring canvas against closed-form pans (frames rendered from sinusoids at x - v t), the
phase recursion shared by encoder and decoder, the latent layout, the key property (a chunk that copies its
context's cells in place continues the video; on PanChunkPCAVideoVAE's canvas it jumps back), seam_frames
blending against its closed form, the pipeline's chunk decoder, take_basis, errors and save / strict load."""
import math

import pytest
import torch

from opensora.models.vae import PanChunkPCAVideoVAE, RingPanChunkPCAVideoVAE
from opensora.models.vae.pca_vae import PCAStats, fit_pca
from opensora.registry import MODELS, build_module

from tests.models.test_pan_chunk_pca_vae import _pan, _world

# 9-frame chunks (c = 4) of 5 latents, 4-px cells, 8 channels (7 canvas + speed), 8-px margin: 16-px frames on a
# 32-px ring
SIZES = dict(latent_channels=8, patch_size=4, time_factor=2, micro_frame_size=9, margin=8)
RING = 16 + 2 * 8


def _fit(vae, seeds=range(6)):
    stats = PCAStats(vae.group_dim)
    for seed in seeds:
        for speed in (-1.0, -0.5, 0.5, 1.0):
            for phase in (0.0, 5.0, 13.5, 22.0):
                x = _pan(speed, seed=seed)
                s = torch.tensor([speed], dtype=torch.float64)
                stats.update(vae.to_groups(vae.to_ring(x, s, torch.tensor([phase], dtype=torch.float64))))
    vae.load_fit({k: (v.double() if torch.is_tensor(v) else v) for k, v in fit_pca(stats, vae.num_components).items()})
    return vae


def test_ring_columns_hold_the_world_and_decode_samples_them_around_the_ring():
    """Frame t column x shows ring column (M + x - v (t - c) + psi) mod R; with an integer speed and phase the
    decoded frames are exact slices of the ring, wrapping around its end."""
    vae = RingPanChunkPCAVideoVAE(**SIZES).double()
    ring = _world(torch.arange(RING, dtype=torch.float64), torch.arange(8, dtype=torch.float64), 2)
    canvas = ring[:, None].expand(3, 9, 8, RING)[None]
    frames = vae.from_ring(canvas, torch.tensor([1.0], dtype=torch.float64), torch.tensor([20.0], dtype=torch.float64), 9)
    assert frames.shape == (1, 3, 9, 8, 16)
    for t in range(9):
        cols = [(8 + x - (t - 4) + 20) % RING for x in range(16)]  # wraps past column 31
        torch.testing.assert_close(frames[0, :, t], canvas[0, :, t, :, cols])


def test_consecutive_chunks_put_the_same_world_on_the_same_ring_columns():
    """The phases the encoder gives two consecutive chunks of a pan make them show a world column at the same ring
    column: where both chunks see the ring, their canvases agree (PanChunkPCAVideoVAE's canvases are 9 v apart)."""
    vae = RingPanChunkPCAVideoVAE(**SIZES).double()
    for speed in (-1.0, 0.75):
        x = torch.cat([_pan(speed, seed=5), _pan(speed, seed=5, start=9)], dim=2)
        v = torch.tensor([speed], dtype=torch.float64)
        phases = vae.video_phases([v, v], [9, 9], RING, None)
        assert float(phases[0]) == 0.0
        assert float(phases[1]) == pytest.approx((-9 * speed) % RING)  # psi' = psi - v (c + 1/2) - v (c + 1/2)
        a = vae.to_ring(x[:, :, :9], v, phases[0])[0].mean(dim=1)  # (3, H, R): temporal mean
        b = vae.to_ring(x[:, :, 9:], v, phases[1])[0].mean(dim=1)
        # ring columns some frame of each chunk sees (a still world: every frame that sees a column sees the same
        # value there, and to_ring gives the columns a frame does not see the mean of those that do)
        u = torch.arange(RING, dtype=torch.float64)
        seen = torch.ones(RING, dtype=torch.bool)
        for psi in phases:
            some = torch.zeros(RING, dtype=torch.bool)
            for t_off in range(-4, 5):
                start = (8 - speed * t_off + float(psi)) % RING  # ring column of the frame's column 0
                some |= torch.remainder(u - start, RING) <= 14  # away from the frame's last column
            seen &= some
        assert int(seen.sum()) >= 4
        assert float((a[..., seen] - b[..., seen]).abs().max()) < 0.02
        pan = PanChunkPCAVideoVAE(**{**SIZES, "latent_channels": 4}).double()
        pa, pb = pan.to_canvas(x[:, :, :9], v)[0].mean(1), pan.to_canvas(x[:, :, 9:], v)[0].mean(1)
        assert float((pa[..., 8:24] - pb[..., 8:24]).abs().mean()) > 5 * float((a[..., seen] - b[..., seen]).abs().mean())


def test_latent_layout_and_a_fitted_round_trip_that_carries_the_phase():
    vae = _fit(RingPanChunkPCAVideoVAE(**SIZES).double())
    assert vae.num_components == 5 * (8 - 1)
    assert vae.get_latent_size([18, 8, 16]) == [10, 2, 8]
    x = torch.cat([_pan(-0.75, seed=9), _pan(-0.75, seed=9, start=9)], dim=2)  # held out
    z = vae.encode(x)
    assert z.shape == (1, 8, 10, 2, 8)
    torch.testing.assert_close(z[:, -1], torch.full((1, 10, 2, 8), -0.75 / vae.velocity_scale, dtype=torch.float64),
                               atol=0.02, rtol=0)
    rec = vae.decode(z, 18)
    assert rec.shape == x.shape
    assert float((rec - x).pow(2).mean()) < 0.05 * float(x.var())
    # the second chunk alone, at phase 0, shows the wrong stretch of the ring; at psi_1 = 9 * 0.75 the right one
    alone = vae.decode_chunk(z[:, :, 5:])
    at_phase = vae.decode_chunk(z[:, :, 5:], phase=torch.tensor([9 * 0.75], dtype=torch.float64))
    torch.testing.assert_close(at_phase, rec[:, :, 9:], atol=2e-3, rtol=0)  # decode uses the decoded speeds
    assert float((alone - x[:, :, 9:]).pow(2).mean()) > 4 * float((at_phase - x[:, :, 9:]).pow(2).mean())
    # the chunk decoder takes the chunks one at a time and carries the phase, as decode does
    decoder = vae.chunk_decoder()
    torch.testing.assert_close(torch.cat([decoder(z[:, :, :5]), decoder(z[:, :, 5:])], dim=2), rec)


def test_random_phase_draws_the_first_phase_from_the_generator():
    x = torch.cat([_pan(0.5, seed=3), _pan(0.5, seed=3, start=9)], dim=2)
    fixed = _fit(RingPanChunkPCAVideoVAE(**SIZES).double())
    rand = RingPanChunkPCAVideoVAE(**SIZES, random_phase=True).double()
    rand.load_state_dict(fixed.state_dict())
    torch.testing.assert_close(fixed.encode(x, generator=torch.Generator().manual_seed(7)), fixed.encode(x))
    z1 = rand.encode(x, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(z1, rand.encode(x, generator=torch.Generator().manual_seed(7)))
    assert float((z1 - fixed.encode(x)).abs().max()) > 0.1  # the world elsewhere on the ring
    psi0 = float(torch.rand(1, generator=torch.Generator().manual_seed(7), dtype=torch.float64)) * RING
    at = rand.decode_chunk(z1[:, :, :5], phase=torch.tensor([psi0], dtype=torch.float64))
    assert float((at - x[:, :, :9]).pow(2).mean()) < 0.05 * float(x.var())


def test_a_chunk_copied_in_place_continues_the_video():
    """What the tiny model does with its clean context chunk: copy its cells in place. Here the second chunk's
    canvas channels are the first chunk's and its speed its own. On the ring the decoded video continues across
    the boundary like the truth; on PanChunkPCAVideoVAE's canvas the same copy jumps back by about 9 v px."""
    ring = _fit(RingPanChunkPCAVideoVAE(**SIZES).double())
    pan = PanChunkPCAVideoVAE(**SIZES).double()
    stats = PCAStats(pan.group_dim)
    for seed in range(6):
        for speed in (-1.0, -0.5, 0.5, 1.0):
            stats.update(pan.fit_groups(_pan(speed, seed=seed)))
    pan.load_fit({k: (v.double() if torch.is_tensor(v) else v) for k, v in fit_pca(stats, pan.num_components).items()})
    x = torch.cat([_pan(1.0, seed=21), _pan(1.0, seed=21, start=9)], dim=2)
    truth = float((x[:, :, 9] - x[:, :, 8]).abs().mean())
    jumps = {}
    for name, vae in (("ring", ring), ("pan", pan)):
        z = vae.encode(x)
        copied = z.clone()
        copied[:, :-1, 5:] = z[:, :-1, :5]
        video = vae.decode(copied, 18)
        jumps[name] = float((video[:, :, 9] - video[:, :, 8]).abs().mean())
    assert jumps["ring"] < 1.5 * truth + 0.01, jumps
    assert jumps["pan"] > 3 * jumps["ring"], jumps


def test_the_pipelines_chunk_decoder_carries_the_phase():
    from opensora.models.vae import ChunkPCAVideoVAE
    from opensora.sampling.video_files import chunk_decoder

    vae = _fit(RingPanChunkPCAVideoVAE(**SIZES).double())
    x = torch.cat([_pan(1.0, seed=2), _pan(1.0, seed=2, start=9), _pan(1.0, seed=2, start=18)], dim=2)
    z = vae.encode(x)
    decode = chunk_decoder(vae, "cpu")
    torch.testing.assert_close(torch.cat([decode(z[:, :, 5 * k: 5 * k + 5]) for k in range(3)], dim=2),
                               vae.decode(z, 27).float())
    still = ChunkPCAVideoVAE(latent_channels=4, patch_size=4, time_factor=2, micro_frame_size=9)
    zc = torch.randn(1, 4, 5, 2, 4)
    torch.testing.assert_close(chunk_decoder(still, "cpu")(zc), still.decode_chunk(zc))


def _with_seam_frames(fitted, frames):
    vae = RingPanChunkPCAVideoVAE(**SIZES, seam_frames=frames).double()
    vae.load_state_dict(fitted.state_dict())
    return vae


@pytest.mark.parametrize("second", [9, 5])  # a full second chunk, and a partial one (its last 5 frames)
def test_seam_frames_fades_a_still_boundary_in_closed_form(second):
    """A still camera (v = 0: every frame shows ring columns M .. M + W - 1 exactly) that cuts between two worlds at
    the chunk boundary. With seam_frames = L the second chunk's frame j is the plain decode plus
    (1 - j / L)+ times (previous last frame - its first frame): frame 0 repeats the previous frame, the cut fades
    out over L frames, the first chunk and the frames from L on are the plain decode."""
    plain = _fit(RingPanChunkPCAVideoVAE(**SIZES).double())
    x = torch.cat([_pan(0.0, seed=4), _pan(0.0, seed=11)[:, :, 9 - second:]], dim=2)
    z = plain.encode(x)
    f = plain.decode(z, 9 + second)
    for frames in (1, 4, 9):
        out = _with_seam_frames(plain, frames).decode(z, 9 + second)
        expected = f.clone()
        for j in range(second):
            expected[:, :, 9 + j] += max(0.0, 1 - j / frames) * (f[:, :, 8] - f[:, :, 9])
        torch.testing.assert_close(out, expected, atol=1e-9, rtol=0)
    assert float((f[:, :, 9] - f[:, :, 8]).abs().mean()) > 0.05  # there was a cut to fade


def test_seam_frames_continues_a_pan_across_a_boundary_and_streams_like_decode():
    """A 1 px/frame pan whose second chunk shows another world: plainly decoded, frame 9 jumps; with seam_frames
    it is frame 8 moved on by the pan (frame 9 column x = frame 8 column x - 1, as in the true video of one world),
    up to the one column that enters the view; a third chunk continues the (blended) second one the same way, and
    the chunk decoder fed one chunk at a time gives the same frames as decode."""
    plain = _fit(RingPanChunkPCAVideoVAE(**SIZES).double())
    x = torch.cat([_pan(1.0, seed=21), _pan(1.0, seed=22, start=9), _pan(1.0, seed=23, start=18)], dim=2)
    truth = torch.cat([_pan(1.0, seed=21), _pan(1.0, seed=21, start=9)], dim=2)
    torch.testing.assert_close(truth[:, :, 9, :, 1:], truth[:, :, 8, :, :-1])  # the geometry checked below
    z = plain.encode(x)
    f = plain.decode(z, 27)
    blended = _with_seam_frames(plain, 4)
    out = blended.decode(z, 27)
    for b in (9, 18):
        jump = float((f[:, :, b, :, 1:] - f[:, :, b - 1, :, :-1]).abs().mean())
        assert jump > 0.05
        # (the decoded speeds differ from 1 by < 0.003 px/frame, so the columns move by 1 +- 0.001 px)
        torch.testing.assert_close(out[:, :, b, :, 1:], out[:, :, b - 1, :, :-1], atol=1e-3, rtol=0)
        torch.testing.assert_close(out[:, :, b + 4: b + 9], f[:, :, b + 4: b + 9])  # weight 0 from frame L on
    torch.testing.assert_close(out[:, :, :9], f[:, :, :9])
    decoder = blended.chunk_decoder()
    torch.testing.assert_close(torch.cat([decoder(z[:, :, 5 * k: 5 * k + 5]) for k in range(3)], dim=2), out)


@pytest.mark.parametrize("bad", [-1, 10, 2.5, True, "8"])
def test_seam_frames_must_be_an_integer_up_to_the_chunk(bad):
    with pytest.raises(ValueError, match=r"seam_frames must be an integer from 0 \(no blending\) to micro_frame_size=9"):
        RingPanChunkPCAVideoVAE(**SIZES, seam_frames=bad)


def test_take_basis_copies_a_pan_vae_with_the_same_layout():
    pan = PanChunkPCAVideoVAE(**SIZES).double()
    g = torch.Generator().manual_seed(0)
    pan.basis.copy_(torch.randn(pan.basis.shape, generator=g, dtype=torch.float64))
    pan.scale.uniform_(0.5, 2.0, generator=g), pan.mean.normal_(generator=g)
    ring = RingPanChunkPCAVideoVAE(**SIZES).double()
    ring.take_basis(pan)
    for name in ("mean", "basis", "scale"):
        torch.testing.assert_close(getattr(ring, name), getattr(pan, name))
    with pytest.raises(ValueError, match="take_basis needs"):
        ring.take_basis(PanChunkPCAVideoVAE(**{**SIZES, "latent_channels": 6}))


def test_errors_registry_and_strict_load(tmp_path):
    with pytest.raises(ValueError, match="margin must be > 0"):
        RingPanChunkPCAVideoVAE(**{**SIZES, "margin": 0})
    vae = build_module(dict(type="RingPanChunkPCAVideoVAE", **SIZES), MODELS)
    with pytest.raises(ValueError, match="canvas adds"):
        vae.decode_chunk(torch.zeros(1, 8, 5, 2, 4))
    fitted = _fit(RingPanChunkPCAVideoVAE(**SIZES).double()).float()
    fitted.save_pretrained(tmp_path / "ring")
    again = RingPanChunkPCAVideoVAE(from_pretrained=str(tmp_path / "ring"), **SIZES)
    x = _pan(1.0, seed=14).float()
    torch.testing.assert_close(again.encode(x), fitted.encode(x))
    import json
    arch = json.loads((tmp_path / "ring" / "config.json").read_text())
    assert arch["architectures"] == ["RingPanChunkPCAVideoVAE"] and arch["margin"] == 8
