"""tools/fit_pca_vae.py end to end on a small synthetic dataset: writes a loadable VAE whose reported PSNR is the
PSNR of an independent encode -> decode of the held-out videos."""
import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

from opensora.models.vae import ChunkPCAVideoVAE, PanChunkPCAVideoVAE, PCAVideoVAE
from opensora.utils.video_io import read_video
from tools.synthetic.generate import generate

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("fit_pca_vae_test", ROOT / "tools" / "fit_pca_vae.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("vae_type,cls", [("PCAVideoVAE", PCAVideoVAE), ("ChunkPCAVideoVAE", ChunkPCAVideoVAE),
                                          ("PanChunkPCAVideoVAE", PanChunkPCAVideoVAE)])
def test_fit_writes_a_loadable_vae_with_its_psnr(tmp_path, vae_type, cls):
    train = generate(tmp_path / "data", "train", num_videos=3, seconds=1.5, width=48, height=32, progress=False)
    heldout = generate(tmp_path / "data", "heldout", num_videos=1, seconds=1.5, width=48, height=32, progress=False)
    report = _tool().main(["--data-path", str(train), "--eval-path", str(heldout), "--out", str(tmp_path / "vae"),
                           "--latent-channels", "16", "--vae-type", vae_type, "--no-progress"])
    config = json.loads((tmp_path / "vae" / "config.json").read_text())
    assert config["fit"] == report and config["latent_channels"] == 16
    assert config["architectures"] == [vae_type] and report["scaling"] == "balanced"
    vae = cls(from_pretrained=str(tmp_path / "vae"), latent_channels=16)
    video = torch.from_numpy(read_video(Path(str(heldout)).parent / "heldout_00000.mp4")).permute(3, 0, 1, 2)
    x = video[None, :, :34].float() / 127.5 - 1  # the two whole 17-frame chunks of the 36-frame video
    rec = vae.decode(vae.encode(x), 34).clamp(-1, 1)
    psnr = 10 * math.log10(255.0 ** 2 / float(((rec - x) * 127.5).pow(2).mean()))
    assert abs(psnr - report["psnr_eval_db"]) < 0.01
    assert 0.0 < report["explained_variance"] <= 1.0


def test_ring_vae_takes_a_fitted_pan_vaes_basis(tmp_path):
    from opensora.models.vae import RingPanChunkPCAVideoVAE

    train = generate(tmp_path / "data", "train", num_videos=3, seconds=1.5, width=48, height=32, progress=False)
    heldout = generate(tmp_path / "data", "heldout", num_videos=1, seconds=1.5, width=48, height=32, progress=False)
    common = ["--data-path", str(train), "--eval-path", str(heldout), "--latent-channels", "16", "--no-progress"]
    tool = _tool()
    tool.main([*common, "--out", str(tmp_path / "pan"), "--vae-type", "PanChunkPCAVideoVAE"])
    report = tool.main([*common, "--out", str(tmp_path / "ring"), "--vae-type", "RingPanChunkPCAVideoVAE",
                        "--basis-from", str(tmp_path / "pan")])
    config = json.loads((tmp_path / "ring" / "config.json").read_text())
    assert config["fit"] == report and report["basis_from"] == str(tmp_path / "pan")
    ring = RingPanChunkPCAVideoVAE(from_pretrained=str(tmp_path / "ring"), latent_channels=16)
    pan = PanChunkPCAVideoVAE(from_pretrained=str(tmp_path / "pan"), latent_channels=16)
    torch.testing.assert_close(ring.basis, pan.basis)
    video = torch.from_numpy(read_video(Path(str(heldout)).parent / "heldout_00000.mp4")).permute(3, 0, 1, 2)
    x = video[None, :, :34].float() / 127.5 - 1
    err = sum(float(((ring.decode(ring.encode(c), 17).clamp(-1, 1) - c) * 127.5).pow(2).sum())
              for c in x.split(17, dim=2))  # the tool's PSNR codes every chunk on its own
    assert abs(10 * math.log10(255.0 ** 2 / (err / x.numel())) - report["psnr_eval_db"]) < 0.01
    with pytest.raises(ValueError, match="--basis-from takes"):
        tool.main([*common, "--out", str(tmp_path / "bad"), "--vae-type", "ChunkPCAVideoVAE",
                   "--basis-from", str(tmp_path / "pan")])
