"""tools/train_tiny_vae.py: the loss falls, the checkpoint reloads strictly, PSNR matches numpy."""
import json
import math

import numpy as np
import torch

from opensora.models.vae.vae import opensora_vae_v1_2_tiny
from tools import train_tiny_vae as ttv


def test_psnr_matches_numpy():
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(2, 3, 5, 8, 8, generator=g) * 2 - 1
    rec = ref + 0.1 * torch.randn(ref.shape, generator=g)  # some values leave [-1, 1]: clamped
    r = (ref.numpy().astype(np.float64) + 1) / 2
    q = np.clip((rec.numpy().astype(np.float64) + 1) / 2, 0, 1)
    expected = 10 * np.log10(1.0 / np.mean((r - q) ** 2))
    assert math.isclose(ttv.psnr(ref, rec), expected, rel_tol=1e-5)
    assert ttv.psnr(ref, ref) == float("inf")
    # a uniform error of 1/255 on [0, 1] is 20 log10(255) dB
    assert math.isclose(ttv.psnr(ref.clamp(-0.9, 0.9), ref.clamp(-0.9, 0.9) + 2 / 255), 20 * math.log10(255),
                        rel_tol=1e-5)


def test_loss_decreases_on_synthetic_clips():
    torch.manual_seed(0)
    model, _ = ttv.build_vae()
    pool = ttv.render_pool("train", 1, 17, seed=0, width=32, height=32, progress=False)
    x = ttv.sample_clips(pool, 1, 17, torch.Generator().manual_seed(0))
    assert x.shape == (1, 3, 17, 32, 32) and x.min() >= -1 and x.max() <= 1

    def loss_now():
        with torch.no_grad():
            return ttv.training_loss(model, x, torch.Generator().manual_seed(1), 1e-6)[0].item()

    before = loss_now()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(2)
    for _ in range(12):
        loss, _, _ = ttv.training_loss(model, x, gen, 1e-6)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss_now() < 0.7 * before


def test_cli_writes_a_checkpoint_that_reloads_strictly(tmp_path):
    out = tmp_path / "vae"
    path = ttv.main(["--out", str(out), "--steps", "2", "--eval-every", "1", "--batch-size", "1",
                     "--num-videos", "1", "--pool-frames", "18", "--eval-videos", "1", "--width", "32",
                     "--height", "32", "--seed", "3", "--no-progress"])
    assert path == out / "model.safetensors"
    report = json.loads((out / "train_tiny_vae.json").read_text())
    assert report["type"] == "OpenSoraVAE_V1_2-tiny" and len(report["history"]) == 2
    assert math.isfinite(report["heldout_psnr"])
    model = opensora_vae_v1_2_tiny(from_pretrained=str(path), **report["vae_kwargs"])  # strict load
    torch.testing.assert_close(model.shift.flatten(), torch.tensor(report["vae_kwargs"]["shift"]), atol=1e-4,
                               rtol=0)
    clips = ttv.render_pool("heldout", 1, 17, seed=3, width=32, height=32, progress=False)
    value, raw = ttv.evaluate(model, clips, seed=3)
    assert math.isclose(value, report["heldout_psnr"], abs_tol=1e-2)
    assert raw.shape == (1, 4, 5, 4, 4)
