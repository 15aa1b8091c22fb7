"""scripts/inference.py end to end on tiny random-weight networks (CPU): outputs, resume, starts, errors."""
import json

import pytest
import torch

from opensora.sampling import pipeline
from opensora.utils.ckpt import WeightsNotFoundError
from opensora.utils.video_io import read_video

from .helpers import TINY, run_inference
from .test_video_io import make_clip

FAST = ["--num-frames", "3s", "--num-sampling-steps", "6", "--cfg-options", "progress=False", "save_latents=True"]


def _run(save_dir, *extra, config=TINY):
    return run_inference(config, "--save-dir", save_dir, *FAST, *extra)


def test_text_to_video_outputs(tmp_path):
    paths = _run(tmp_path, "--prompt", "a red fox|0| a red fox jumps|1|", "a cat", "--batch-size", "2")
    assert [p.name for p in paths] == ["sample_0000.mp4", "sample_0001.mp4"]
    video = read_video(paths[0])
    assert video.shape == (72, 32, 48, 3)  # 5 chunks = 85 frames generated, 3 s kept
    info = json.loads((tmp_path / "sample_0000.json").read_text())
    assert info["prompt"] == [["a red fox", 0.0], ["a red fox jumps", 1.0]] and info["model_calls"] == 6 + 4
    latents = torch.load(tmp_path / "sample_0000.latents.pt")
    assert latents.shape == (1, 4, 25, 4, 6) and torch.isfinite(latents).all()
    assert not (tmp_path / ".resume").exists()


def test_seed_is_honoured_and_independent_of_batching(tmp_path):
    _run(tmp_path / "a", "--prompt", "x", "y", "--batch-size", "2")
    _run(tmp_path / "b", "--prompt", "x", "y", "--batch-size", "1")
    _run(tmp_path / "c", "--prompt", "x", "y", "--seed", "7")
    a, b, c = (torch.load(tmp_path / d / "sample_0001.latents.pt") for d in "abc")
    assert torch.allclose(a, b, atol=1e-5) and not torch.allclose(a, c, atol=1e-2)


# the ring VAE's decoder carries state from chunk to chunk (the phase and, with seam_frames, the last shown canvas)
RING_VAE = ('vae = dict(_delete_=True, type="RingPanChunkPCAVideoVAE", latent_channels=4, patch_size=8, margin=8, '
            'seam_frames=4)\n')


@pytest.mark.parametrize("every,ring", [(1, False), (2, False), (1, True)])
def test_resume_equals_uninterrupted(tmp_path, monkeypatch, capsys, every, ring):
    args = ("--prompt", "a fox", "--cfg-options", f"save_state_every={every}")
    config = TINY
    if ring:
        config = tmp_path / "ring.py"
        config.write_text(f"_base_ = [{TINY!r}]\n" + RING_VAE)
    _run(tmp_path / "full", *args, config=config)
    original = pipeline.ChunkSink.write

    def stop_at_chunk_3(self, chunk):
        if chunk.index == 3:
            raise RuntimeError("simulated interruption")
        original(self, chunk)

    monkeypatch.setattr(pipeline.ChunkSink, "write", stop_at_chunk_3)
    with pytest.raises(RuntimeError, match="simulated"):
        _run(tmp_path / "cut", *args, config=config)
    assert (tmp_path / "cut/.resume/sample_0000/state.pt").is_file()
    assert read_video(tmp_path / "cut/sample_0000.mp4").shape[0] == 3 * 17  # a playable partial video
    monkeypatch.setattr(pipeline.ChunkSink, "write", original)
    capsys.readouterr()
    _run(tmp_path / "cut", *args, "--resume", config=config)
    done = 3 if every == 1 else 2  # chunks whose state was saved before the interruption
    assert f"resuming sample_0000 from {tmp_path / 'cut/.resume/sample_0000/state.pt'}: {done} of 5 chunks done" \
        in capsys.readouterr().err
    full, resumed = (torch.load(tmp_path / d / "sample_0000.latents.pt") for d in ("full", "cut"))
    assert torch.equal(full, resumed)
    assert (tmp_path / "full/sample_0000.mp4").read_bytes() == (tmp_path / "cut/sample_0000.mp4").read_bytes()
    assert not (tmp_path / "cut/.resume").exists()
    _run(tmp_path / "cut", *args, "--resume", config=config)  # finished videos are skipped


def test_resume_refuses_another_runs_state(tmp_path, monkeypatch):
    original = pipeline.ChunkSink.write

    def stop(self, chunk):
        if chunk.index == 2:
            raise RuntimeError("simulated interruption")
        original(self, chunk)

    monkeypatch.setattr(pipeline.ChunkSink, "write", stop)
    with pytest.raises(RuntimeError):
        _run(tmp_path, "--prompt", "a fox")
    monkeypatch.setattr(pipeline.ChunkSink, "write", original)
    with pytest.raises(ValueError, match=r"different run \(differs in \['seeds'\]\)"):
        _run(tmp_path, "--prompt", "a fox", "--seed", "3", "--resume")


def test_extend_reference_last_frames_and_image_start(tmp_path):
    clip = make_clip(tmp_path / "ref.mp4", 30, size=(40, 60))
    png = tmp_path / "still.png"
    import av
    import numpy as np

    with av.open(str(png), mode="w") as container:
        stream = container.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = 48, 32, "rgb24"
        container.mux(stream.encode(av.VideoFrame.from_ndarray(np.full((32, 48, 3), 90, np.uint8), "rgb24")))
        container.mux(stream.encode(None))
    paths = _run(tmp_path / "out", "--prompt", f"a clip||{clip}", f"a still||{png}", "--batch-size", "2",
                 "--cfg-options", "reference_side=last")
    for path in paths:
        assert read_video(path).shape == (72, 32, 48, 3)
    info = json.loads((tmp_path / "out/sample_0000.json").read_text())
    assert info["model_calls"] == 6 + 3 and info["reference"] == str(clip)


def test_short_reference_error(tmp_path):
    clip = make_clip(tmp_path / "short.mp4", 16)
    with pytest.raises(ValueError, match="has 16 frames, but at least 17"):
        _run(tmp_path / "out", "--prompt", f"a fox||{clip}")


def test_missing_weights_error(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="(?s)/nonexistent/stdit.safetensors.*local copy"):
        _run(tmp_path, "--prompt", "a fox", "--ckpt-path", "/nonexistent/stdit.safetensors")


def test_malformed_prompt_file_names_the_line(tmp_path):
    prompts = tmp_path / "p.txt"
    prompts.write_text("ok\nbroken|0| next|later|\n")
    with pytest.raises(ValueError, match=r"p.txt:2: .*'later' is not a number"):
        _run(tmp_path, "--prompt-path", prompts)
