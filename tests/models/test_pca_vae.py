"""PCAVideoVAE: chunk arithmetic (against OpenSoraVAE_V1_2), exact PCA recovery (closed form), grouping round
trip, errors, save / strict load, and the shipped fit's PSNR on freshly rendered synthetic frames."""
from pathlib import Path

import numpy as np
import pytest
import torch

from opensora.models.vae import PCAVideoVAE, opensora_vae_v1_2_tiny
from opensora.models.vae.pca_vae import PCAStats, fit_pca
from opensora.registry import MODELS, build_module
from opensora.utils.ckpt import CheckpointMismatchError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "checkpoints" / "tiny" / "vae"


def _video(frames, h=16, w=24, seed=1):
    return torch.rand(1, 3, frames, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_registered_and_sizes_match_the_open_sora_vae():
    vae = build_module(dict(type="PCAVideoVAE", latent_channels=8), MODELS)
    with torch.device("meta"):
        reference = opensora_vae_v1_2_tiny()
    assert vae.latents_per_chunk == reference.latents_per_chunk == 5
    for frames in [0, 1, 4, 5, 16, 17, 18, 34, 51, 68, 100, 1445]:
        assert vae.latent_frames(frames) == reference.latent_frames(frames), frames
    for latents in [1, 4, 5, 6, 20, 425]:
        assert vae.chunk_frame_counts(latents) == reference.chunk_frame_counts(latents)
    assert vae.get_latent_size([1445, 64, 96]) == [425, 8, 12]
    assert vae.get_latent_size([None, 64, None]) == [None, 8, None]


def test_full_basis_reconstructs_exactly():
    """With C = D the basis is orthogonal, so decode(encode(x)) = x for any fitted mean / scale."""
    vae = PCAVideoVAE(latent_channels=3 * 4 * 2 * 2, patch_size=2)
    stats = PCAStats(vae.group_dim)
    stats.update(vae.to_groups(_video(17, 4, 6, seed=3)))
    stats.update(vae.to_groups(_video(17, 4, 6, seed=4)))
    fitted = fit_pca(stats, vae.out_channels)
    vae.mean.copy_(fitted["mean"]), vae.basis.copy_(fitted["basis"])
    vae.scale.copy_(fitted["scale"].reshape(vae.scale.shape))
    x = _video(40, 4, 6, seed=5)  # 2 full chunks + 6 frames
    z = vae.encode(x)
    assert z.shape == (1, 48, 5 + 5 + 2, 2, 3)
    torch.testing.assert_close(vae.decode(z, 40), x, atol=2e-5, rtol=0)


def test_fit_recovers_a_known_subspace():
    """Groups drawn as mean + A w (w ~ N(0, diag(s^2)), A orthonormal, k columns): the fit keeps the span of A,
    the scales are s (sorted), and k channels reconstruct every such group exactly."""
    g = torch.Generator().manual_seed(0)
    dim, k, n = 48, 3, 4000
    a, _ = torch.linalg.qr(torch.randn(dim, k, generator=g, dtype=torch.float64))
    s = torch.tensor([3.0, 2.0, 0.5], dtype=torch.float64)
    mean = torch.randn(dim, generator=g, dtype=torch.float64)
    w = torch.randn(n, k, generator=g, dtype=torch.float64) * s
    data = mean + w @ a.T
    stats = PCAStats(dim)
    stats.update(data[: n // 2]), stats.update(data[n // 2:])
    fitted = fit_pca(stats, k)
    basis = fitted["basis"].double()
    torch.testing.assert_close(basis @ basis.T, torch.eye(k, dtype=torch.float64), atol=1e-5, rtol=0)
    projector_fit, projector_true = basis.T @ basis, a @ a.T
    torch.testing.assert_close(projector_fit, projector_true, atol=1e-5, rtol=0)
    empirical = (w - w.mean(0)).pow(2).mean(0).sqrt()  # independent: the sample std of each known direction
    torch.testing.assert_close(fitted["std"].double(), empirical, rtol=0.02, atol=0)
    torch.testing.assert_close(fit_pca(stats, k, "whiten")["scale"].double(), empirical, rtol=0.02, atol=0)
    uniform = empirical.pow(2).mean().sqrt()  # one scale, the rms of the axis stds
    torch.testing.assert_close(fit_pca(stats, k, "uniform")["scale"].double(), uniform.expand(k), rtol=0.02, atol=0)
    balanced = (empirical * empirical.mean()).sqrt()  # the default: sqrt(std_c * mean std)
    torch.testing.assert_close(fitted["scale"].double(), balanced, rtol=0.02, atol=0)
    for scaling in ("balanced", "uniform", "whiten"):  # every scaling keeps unit latent variance on average
        s_c = fit_pca(stats, k, scaling)["scale"].double()
        assert float(((empirical / s_c) ** 2).mean()) == pytest.approx(1.0, rel=0.04)
    assert fitted["explained"] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("scaling", ["balanced", "uniform", "whiten"])
def test_latent_error_costs_in_pixels(scaling):
    """A unit latent error in channel c changes the decoded pixels by scale_c in L2 (the basis rows are
    orthonormal): the same for every channel when uniform, std_c when whitened (~90x more in channel 0 than in
    channel 31 of the shipped fit), sqrt(std_c * mean std) when balanced (the default)."""
    vae = PCAVideoVAE(latent_channels=6, patch_size=2)
    stats = PCAStats(vae.group_dim)
    for seed in range(4):
        stats.update(vae.to_groups(_video(17, 4, 6, seed=seed)))
    fitted = fit_pca(stats, 6, scaling)
    vae.mean.copy_(fitted["mean"]), vae.basis.copy_(fitted["basis"])
    vae.scale.copy_(fitted["scale"].reshape(vae.scale.shape))
    z = vae.encode(_video(17, 4, 6, seed=9))
    base = vae.decode(z, 17)
    costs = []
    for c in range(6):
        dz = torch.zeros_like(z)
        dz[:, c, 2, 1, 1] = 1.0  # one unit in one channel of one latent cell (4 frames x 2 x 2 px x 3)
        costs.append(float((vae.decode(z + dz, 17) - base).pow(2).sum().sqrt()))
    std = fitted["std"]
    expected = {"uniform": std.pow(2).mean().sqrt().expand(6), "whiten": std,
                "balanced": (std * std.mean()).sqrt()}[scaling]
    torch.testing.assert_close(torch.tensor(costs), expected, rtol=1e-4, atol=0)
    if scaling == "uniform":
        assert max(costs) == pytest.approx(min(costs), rel=1e-4)


def test_groups_round_trip_and_first_frame_padding():
    vae = PCAVideoVAE(latent_channels=4, patch_size=4)
    x = _video(6, 8, 12)
    groups = vae.to_groups(x)  # 6 frames -> 2 front-pad copies of frame 0 -> 2 groups
    assert groups.shape == (1, 2, 2, 3, 3 * 4 * 4 * 4)
    padded = vae.from_groups(groups, 8)
    torch.testing.assert_close(padded[:, :, :3], x[:, :, :1].expand(-1, -1, 3, -1, -1))
    torch.testing.assert_close(vae.from_groups(groups, 6), x)


def test_errors_name_the_problem():
    vae = PCAVideoVAE(latent_channels=4)
    with pytest.raises(ValueError, match="multiple of patch_size=8"):
        vae.encode(_video(17, 20, 24))
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\)"):
        vae.encode(torch.zeros(1, 4, 17, 16, 16))
    with pytest.raises(ValueError, match="1..5 latents"):
        vae.decode_chunk(torch.zeros(1, 4, 6, 2, 2))
    with pytest.raises(ValueError, match="does not fit 2 latents"):
        vae.decode_chunk(torch.zeros(1, 4, 2, 2, 2), num_frames=9)
    with pytest.raises(ValueError, match="exceeds the 768 values"):
        PCAVideoVAE(latent_channels=769)
    with pytest.raises(ValueError, match="need at least 2 groups"):
        fit_pca(PCAStats(8), 2)


def test_save_and_strict_load(tmp_path):
    vae = PCAVideoVAE(latent_channels=6, patch_size=4)
    vae.mean.normal_(), vae.scale.uniform_(0.5, 2.0)
    vae.save_pretrained(tmp_path / "vae", extra={"fit": {"psnr_eval_db": 31.0}})
    loaded = PCAVideoVAE(from_pretrained=str(tmp_path / "vae"), latent_channels=6, patch_size=4)
    torch.testing.assert_close(loaded.mean, vae.mean), torch.testing.assert_close(loaded.scale, vae.scale)
    with pytest.raises(CheckpointMismatchError):
        PCAVideoVAE(from_pretrained=str(tmp_path / "vae"), latent_channels=8, patch_size=4)


@pytest.mark.skipif(not SHIPPED.is_dir(), reason="no shipped checkpoints/tiny/vae")
def test_shipped_fit_reconstructs_unseen_synthetic_frames_above_30_db():
    from tools.synthetic.generate import plan_videos
    from tools.synthetic.world import World

    from opensora.utils.config import load_config

    cfg = load_config(ROOT / "configs" / "pavdm" / "infer_60s_tiny.py").vae  # the shipped VAE, whatever its type
    assert Path(cfg.from_pretrained).resolve() == SHIPPED.resolve()
    vae = build_module(cfg, MODELS)
    job = plan_videos("heldout", 1, 34 / 24, seed=12345)[0]  # a world seed that no shipped data used
    frames = np.stack(list(World(job.spec).frames(34)))
    x = torch.from_numpy(frames).permute(3, 0, 1, 2)[None].float() / 127.5 - 1
    rec = vae.decode(vae.encode(x), 34).clamp(-1, 1)
    mse = float(((rec - x) * 127.5).pow(2).mean())
    assert 10 * np.log10(255.0 ** 2 / mse) >= 30.0
