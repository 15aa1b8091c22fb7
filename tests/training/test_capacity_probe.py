"""Capacity probe (opensora/training/capacity_probe.py, tools/capacity_probe.py): an oracle velocity gives zero x0
error (the rectified-flow algebra of the probe is right), and the tool runs end to end on a tiny STDiT3."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from opensora.models.vae import ChunkPCAVideoVAE
from opensora.training.capacity_probe import measure_x0_error, probe_capacity
from tools.synthetic.generate import generate

ROOT = Path(__file__).resolve().parents[2]


class _Oracle(torch.nn.Module):
    """v = (x0 - x_t) / t, the exact velocity for known clips x0 (x_t = (1 - t) x0 + t eps)."""

    def __init__(self, z0):
        super().__init__()
        self.z0, self.weight = z0, torch.nn.Parameter(torch.zeros(()))

    def forward(self, x_t, timestep, **kw):
        t = (timestep / 1000)[:, None, :, None, None]
        return (self.z0 - x_t) / t + self.weight * 0


def test_an_oracle_velocity_has_no_x0_error():
    vae = ChunkPCAVideoVAE(latent_channels=2, patch_size=2)
    vae.scale.fill_(2.0)
    z0 = torch.randn(2, 2, 5, 3, 4, generator=torch.Generator().manual_seed(0))
    text = dict(y=torch.zeros(2, 1, 4, 8), mask=torch.ones(2, 4, dtype=torch.long))
    result = probe_capacity(_Oracle(z0), vae, z0, text, steps=3, report_every=2, eval_levels=(0.3, 1.0))
    assert len(result.loss) == 2 and max(result.loss) < 1e-8
    assert set(result.x0_pixel_error) == {0.3, 1.0} and max(result.x0_pixel_error.values()) < 1e-3
    with pytest.raises(ValueError, match=r"eval_levels must lie in \(0, 1\], got \[0.0\]"):
        probe_capacity(_Oracle(z0), vae, z0, text, steps=1, eval_levels=(0.0,))


class _Zero(torch.nn.Module):
    """v = -x_t / t: the estimate x0_hat = x_t + t v is 0, the VAE's mean, whatever the input."""

    def forward(self, x_t, timestep, **kw):
        return -x_t / (timestep / 1000)[:, None, :, None, None]


def test_measure_x0_error_of_a_constant_estimate_is_the_distance_to_the_mean():
    vae = ChunkPCAVideoVAE(latent_channels=2, patch_size=2)
    vae.scale.fill_(3.0)
    vae.mean.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(1))
    z0 = torch.randn(2, 2, 5, 3, 4, generator=torch.Generator().manual_seed(0))
    text = dict(y=torch.zeros(2, 1, 4, 8), mask=torch.ones(2, 4, dtype=torch.long))
    truth = vae.decode(z0, num_frames=None)
    mean_video = vae.decode(torch.zeros_like(z0), num_frames=None)
    expected = ((mean_video - truth).abs().mean() * 127.5).item()  # independent of the level and the noise
    errors = measure_x0_error(_Zero(), vae, z0, text, levels=(0.5, 1.0), draws=2)
    assert errors == pytest.approx({0.5: expected, 1.0: expected}, rel=1e-5)
    assert measure_x0_error(_Oracle(z0), vae, z0, text, levels=(0.7,), draws=1)[0.7] < 1e-3
    with pytest.raises(ValueError, match="draws must be >= 1, got 0"):
        measure_x0_error(_Zero(), vae, z0, text, draws=0)


def test_the_tool_fits_a_tiny_stdit3(tmp_path, capsys):
    csv = generate(tmp_path / "data", "train", num_videos=2, seconds=1, width=48, height=32, progress=False)
    spec = importlib.util.spec_from_file_location("capacity_probe_tool", ROOT / "tools" / "capacity_probe.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / "probe.json"
    record = tool.main([str(ROOT / "configs/pavdm/train_tiny.py"), "--data-path", str(csv), "--num-clips", "2",
                        "--steps", "4", "--levels", "0.5", "--out", str(out),
                        "--cfg-options", "model.depth=1", "model.hidden_size=32", "model.num_heads=2"])
    assert record["steps"] == 4 and record["x0_pixel_error"][0.5] > 0 and len(record["loss"]) == 1
    assert json.loads(out.read_text())["x0_pixel_error"] == {"0.5": record["x0_pixel_error"][0.5]}
    assert "x0 pixel error (0-255): t=0.5" in capsys.readouterr().out
    with pytest.raises(ValueError, match="has 2 videos; --num-clips 3 needs that many"):
        tool.main([str(ROOT / "configs/pavdm/train_tiny.py"), "--data-path", str(csv), "--num-clips", "3"])


def test_the_tool_measures_trained_weights_with_and_without_their_captions(tmp_path, capsys):
    from opensora.registry import MODELS, build_module
    from opensora.utils.ckpt import save_safetensors
    from opensora.utils.config import load_config, parse_options, to_dict

    csv = generate(tmp_path / "data", "train", num_videos=2, seconds=1, width=48, height=32, progress=False)
    options = ["model.depth=1", "model.hidden_size=32", "model.num_heads=2"]
    cfg = load_config(str(ROOT / "configs/pavdm/train_tiny.py"), cfg_options=parse_options(options))
    torch.manual_seed(3)
    model = build_module(dict(to_dict(cfg.model), from_pretrained=None), MODELS, config_key="model")
    save_safetensors(model.state_dict(), tmp_path / "w.safetensors")
    spec = importlib.util.spec_from_file_location("capacity_probe_tool", ROOT / "tools" / "capacity_probe.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    args = [str(ROOT / "configs/pavdm/train_tiny.py"), "--data-path", str(csv), "--num-clips", "2",
            "--weights", str(tmp_path / "w.safetensors"), "--levels", "1.0", "--draws", "1", "--cfg-options", *options]
    record = tool.main(args + ["--shuffle-captions"])
    assert record["steps"] == 0 and record["loss"] == []  # --weights alone measures, it does not fit
    assert set(record["x0_pixel_error_shuffled_captions"]) == {1.0}
    assert "with another clip's caption: t=1: " in capsys.readouterr().out
    assert tool.main(args)["x0_pixel_error"] == record["x0_pixel_error"]  # deterministic
    unloaded = args[:5] + args[7:] + ["--steps", "0"]  # the same model, randomly initialised with the tool's seed
    assert tool.main(unloaded)["x0_pixel_error"] != record["x0_pixel_error"]  # so the weights were loaded
    with pytest.raises(ValueError, match="--shuffle-captions needs --num-clips >= 2"):
        tool.main(args[:4] + ["1"] + args[5:] + ["--shuffle-captions"])


def test_measure_continuation_of_an_oracle_and_of_a_constant_estimate():
    """The oracle (it knows both chunks) has no error with either context; the zero estimate decodes the VAE's
    mean, so its error is the distance of the second chunk to the mean, whatever the context and the level."""
    from opensora.training.capacity_probe import measure_continuation

    vae = ChunkPCAVideoVAE(latent_channels=2, patch_size=2)
    vae.scale.fill_(3.0)
    vae.mean.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(1))
    z0 = torch.randn(3, 2, 10, 3, 4, generator=torch.Generator().manual_seed(0))
    text = dict(y=torch.zeros(3, 1, 4, 8), mask=torch.ones(3, 4, dtype=torch.long))

    class _ChunkOracle(torch.nn.Module):  # v = (x0 - x_t) / t on the noisy chunk; the context's output is unused
        def forward(self, x_t, timestep, **kw):
            t = (timestep / 1000)[:, None, :, None, None].clamp_min(1e-3)
            return (z0 - x_t) / t

    errors = measure_continuation(_ChunkOracle(), vae, z0, text, levels=(0.5, 1.0), draws=1)
    assert set(errors) == {0.5, 1.0} and set(errors[1.0]) == {"right", "other"}
    assert max(e for row in errors.values() for e in row.values()) < 1e-3

    class _Zeros(torch.nn.Module):
        def forward(self, x_t, timestep, **kw):
            return -x_t / (timestep / 1000)[:, None, :, None, None].clamp_min(1e-3)

    truth = vae.decode(z0[:, :, 5:], num_frames=None)
    expected = ((vae.decode(torch.zeros_like(z0[:, :, 5:]), num_frames=None) - truth).abs().mean() * 127.5).item()
    errors = measure_continuation(_Zeros(), vae, z0, text, levels=(0.3,), draws=2)
    assert errors[0.3] == pytest.approx({"right": expected, "other": expected}, rel=1e-5)
    with pytest.raises(ValueError, match="two chunks"):
        measure_continuation(_Zeros(), vae, z0[:, :, :5], text)
