"""RingPanChunkPCAVideoVAE: the ring canvas against closed-form pans (frames rendered from sinusoids at x - v t), the
phase recursion, the latent layout, the key property (a chunk that copies its context's cells in place continues
the video; on PanChunkPCAVideoVAE's canvas it jumps back), take_basis, errors and save / strict load."""
import math

import pytest
import torch

from opensora.models.vae import PanChunkPCAVideoVAE, RingPanChunkPCAVideoVAE
from opensora.models.vae.pca_vae import PCAStats, fit_pca
from opensora.registry import MODELS, build_module

from tests.models.test_pan_chunk_pca_vae import _pan, _world

# 9-frame chunks (c = 4) of 5 latents, 4-px cells, 8 channels (5 canvas + phase cos / sin + speed), 8-px margin:
# 16-px frames on a 32-px ring
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


def test_latent_layout_phase_speed_and_fitted_round_trip():
    vae = _fit(RingPanChunkPCAVideoVAE(**SIZES).double())
    assert vae.num_components == 5 * (8 - 3)
    assert vae.get_latent_size([18, 8, 16]) == [10, 2, 8]
    x = torch.cat([_pan(-0.75, seed=9), _pan(-0.75, seed=9, start=9)], dim=2)  # held out
    z = vae.encode(x)
    assert z.shape == (1, 8, 10, 2, 8)
    torch.testing.assert_close(z[:, -1], torch.full((1, 10, 2, 8), -0.75 / vae.velocity_scale, dtype=torch.float64),
                               atol=0.02, rtol=0)
    # phase channels: (cos, sin) / phase_scale of 2 pi psi / R, psi_0 = 0 and psi_1 = 9 * 0.75
    for k, psi in ((0, 0.0), (1, 9 * 0.75)):
        zk = z[:, :, 5 * k: 5 * k + 5]
        assert float(zk[:, -3].mean()) == pytest.approx(math.cos(2 * math.pi * psi / RING) / vae.phase_scale, abs=0.02)
        assert float(zk[:, -2].mean()) == pytest.approx(math.sin(2 * math.pi * psi / RING) / vae.phase_scale, abs=0.02)
        assert float(vae.decode_phase(zk, RING)[0]) == pytest.approx(psi, abs=0.05)
    rec = vae.decode(z, 18)
    assert rec.shape == x.shape
    assert float((rec - x).pow(2).mean()) < 0.05 * float(x.var())


def test_a_generator_draws_the_first_phase_and_the_rest_follow():
    vae = _fit(RingPanChunkPCAVideoVAE(**SIZES).double())
    x = torch.cat([_pan(0.5, seed=3), _pan(0.5, seed=3, start=9)], dim=2)
    z1 = vae.encode(x, generator=torch.Generator().manual_seed(7))
    z2 = vae.encode(x, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(z1, z2)
    psi0, psi1 = (float(vae.decode_phase(z1[:, :, s:s + 5], RING)[0]) for s in (0, 5))
    assert psi0 != pytest.approx(0.0, abs=0.1)
    assert (psi0 - psi1) % RING == pytest.approx(9 * 0.5, abs=0.05)
    assert float((vae.decode(z1, 18) - x).pow(2).mean()) < 0.05 * float(x.var())  # any phase decodes


def test_a_chunk_copied_in_place_continues_the_video():
    """What the tiny model does with its clean context chunk: copy its cells in place. Here the second chunk's
    canvas channels are the first chunk's, its motion channels its own (the speed, the phase advanced by the
    recursion). On the ring the decoded video continues across the boundary like the truth; on
    PanChunkPCAVideoVAE's canvas the same copy jumps back by about 9 v px."""
    ring = _fit(RingPanChunkPCAVideoVAE(**SIZES).double())
    pan = PanChunkPCAVideoVAE(**{**SIZES, "latent_channels": 6}).double()
    stats = PCAStats(pan.group_dim)
    for seed in range(6):
        for speed in (-1.0, -0.5, 0.5, 1.0):
            stats.update(pan.fit_groups(_pan(speed, seed=seed)))
    pan.load_fit({k: (v.double() if torch.is_tensor(v) else v) for k, v in fit_pca(stats, pan.num_components).items()})
    x = torch.cat([_pan(1.0, seed=21), _pan(1.0, seed=21, start=9)], dim=2)
    truth = float((x[:, :, 9] - x[:, :, 8]).abs().mean())
    jumps = {}
    for name, vae, motion in (("ring", ring, 3), ("pan", pan, 1)):
        z = vae.encode(x)
        copied = z[:, :, 5:].clone()
        copied[:, :-motion] = z[:, :-motion, :5]
        a, b = vae.decode_chunk(z[:, :, :5]), vae.decode_chunk(copied)
        jumps[name] = float((b[:, :, 0] - a[:, :, -1]).abs().mean())
    assert jumps["ring"] < 1.5 * truth + 0.01, jumps
    assert jumps["pan"] > 3 * jumps["ring"], jumps


def test_take_basis_keeps_the_pan_vaes_latent_places():
    pan = PanChunkPCAVideoVAE(**{**SIZES, "latent_channels": 8}).double()
    g = torch.Generator().manual_seed(0)
    pan.basis.copy_(torch.randn(pan.basis.shape, generator=g, dtype=torch.float64))
    pan.scale.uniform_(0.5, 2.0, generator=g), pan.mean.normal_(generator=g)
    ring = RingPanChunkPCAVideoVAE(**SIZES).double()
    ring.take_basis(pan)
    for k in range(5):  # slot k: pan's components 7 k .. 7 k + 4 (of 7) in ring's channels 0 .. 4
        torch.testing.assert_close(ring.basis[5 * k: 5 * k + 5], pan.basis[7 * k: 7 * k + 5])
        torch.testing.assert_close(ring.scale[5 * k: 5 * k + 5], pan.scale[7 * k: 7 * k + 5])
    torch.testing.assert_close(ring.mean, pan.mean)
    with pytest.raises(ValueError, match="take_basis needs"):
        ring.take_basis(PanChunkPCAVideoVAE(**{**SIZES, "latent_channels": 5}))  # 4 canvas channels < 5


def test_errors_registry_and_strict_load(tmp_path):
    with pytest.raises(ValueError, match="margin must be > 0"):
        RingPanChunkPCAVideoVAE(**{**SIZES, "margin": 0})
    with pytest.raises(ValueError, match="phase_scale"):
        RingPanChunkPCAVideoVAE(**SIZES, phase_scale=0)
    vae = build_module(dict(type="RingPanChunkPCAVideoVAE", **SIZES), MODELS)
    with pytest.raises(ValueError, match="ring adds"):
        vae.decode_chunk(torch.zeros(1, 8, 5, 2, 4))
    fitted = _fit(RingPanChunkPCAVideoVAE(**SIZES).double()).float()
    fitted.save_pretrained(tmp_path / "ring")
    again = RingPanChunkPCAVideoVAE(from_pretrained=str(tmp_path / "ring"), **SIZES)
    x = _pan(1.0, seed=14).float()
    torch.testing.assert_close(again.encode(x), fitted.encode(x))
    import json
    arch = json.loads((tmp_path / "ring" / "config.json").read_text())
    assert arch["architectures"] == ["RingPanChunkPCAVideoVAE"] and arch["phase_scale"] == 0.5 and arch["margin"] == 8
