"""LongVideoPipeline (tiny random-weight networks, CPU): streaming equals the files, from_components equals
from_config, references, plans, overrides and errors. Each check compares with an independent computation
(the CLI's files, a whole-video VAE decode, a direct VAE encode, the CLI's dry-run record)."""
import json

import numpy as np
import pytest
import torch

from opensora.sampling import ChunkRecord, LongVideoPipeline
from opensora.sampling.references import read_reference
from opensora.utils.config import ConfigKeyError
from opensora.utils.video_io import read_video, to_uint8

from .helpers import FULL, TINY, run_inference
from .test_video_io import make_clip

FAST = {"scheduler.num_sampling_steps": 6, "progress": False}
PROMPT = "a red fox|0| a red fox jumps|1|"


@pytest.fixture(scope="module")
def pipe():
    return LongVideoPipeline.from_config(TINY, **FAST)


def test_stream_yields_each_chunk_once_with_the_files_latents_and_frames(pipe, tmp_path):
    records = list(pipe.stream(PROMPT, seconds=3, seed=42))
    geom = pipe.geometry(seconds=3)
    assert all(isinstance(r, ChunkRecord) for r in records)
    assert [r.index for r in records] == list(range(geom.num_chunks))
    assert all(r.frames.dtype == np.uint8 and r.frames.shape[1:] == (32, 48, 3) for r in records)
    video = np.concatenate([r.frames for r in records])
    assert video.shape == (72, 32, 48, 3)  # 5 chunks = 85 frames generated, 3 s kept
    latents = torch.cat([r.latents for r in records], dim=1)
    # the same video written by the CLI (the config's seed 42 inits the random networks and seeds video 0)
    run_inference(TINY, "--prompt", PROMPT, "--num-frames", "3s", "--num-sampling-steps", "6",
                  "--save-dir", tmp_path, "--cfg-options", "progress=False", "save_latents=True")
    saved = torch.load(tmp_path / "sample_0000.latents.pt")
    assert torch.equal(latents[None], saved)
    # the frames are the VAE's decode of the whole latent video, cut to the kept length
    whole = pipe.networks.vae.decode(saved, num_frames=geom.frames_generated)[0].float()
    assert np.array_equal(video, to_uint8(whole[:, :72]))
    assert read_video(tmp_path / "sample_0000.mp4").shape == video.shape


def test_call_writes_mp4_sidecar_and_returns_paths(pipe, tmp_path):
    paths = pipe(["a cat", "a dog"], save_dir=tmp_path, num_frames=17, seed=7)
    assert paths == [tmp_path / "sample_0000.mp4", tmp_path / "sample_0001.mp4"]
    info = json.loads((tmp_path / "sample_0001.json").read_text())
    assert info["seed"] == 8 and info["frames"] == 17 and info["prompt"] == [["a dog", 0.0]]
    assert info["config"] == "infer_tiny_cpu.py" and info["model"] is None
    assert pipe(["a cat", "a dog"], save_dir=tmp_path, num_frames=17, seed=7, resume=True) == paths  # skipped


def test_from_components_equals_from_config(pipe):
    n = pipe.networks
    own = LongVideoPipeline.from_components(model=n.model, vae=n.vae, text_encoder=n.text_encoder,
                                            scheduler=n.scheduler, image_size=(32, 48), progress=False)
    a = [r.latents for r in pipe.stream("a fox", num_frames=34, seed=3)]
    b = [r.latents for r in own.stream("a fox", num_frames=34, seed=3)]
    assert len(a) == 2 and all(torch.equal(x, y) for x, y in zip(a, b))
    with pytest.raises(TypeError, match="'cfg_scal' \\(did you mean 'cfg_scale'\\?\\)"):
        LongVideoPipeline.from_components(model=n.model, vae=n.vae, text_encoder=n.text_encoder, cfg_scal=2.0)


def test_stream_extends_a_reference_clip(pipe, tmp_path):
    clip = make_clip(tmp_path / "ref.mp4", 30, size=(40, 60))
    first = next(iter(pipe.stream("a clip", num_frames=51, seed=2, reference=clip)))
    x = read_reference(clip, 17, (32, 48), "first")
    want = pipe.networks.vae.encode(x[None], generator=torch.Generator().manual_seed(2)).float()
    assert first.index == 0 and torch.equal(first.latents, want[0])  # the video begins with the clip


def test_plan_is_the_dry_run_record(tmp_path):
    planner = LongVideoPipeline.from_config(FULL, dry_run=True)
    record = planner.plan("a fox", seconds=15)
    cli_record = run_inference(FULL, "--dry-run", "--num-frames", "15s", "--plan-out", tmp_path / "plan.json")
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert saved["cost"]["flops"]["num_calls"] == record["num_calls"]  # the dry run adds the cost section
    assert record == {k: v for k, v in cli_record.items() if k != "cost"} == {k: v for k, v in saved.items()
                                                                            if k != "cost"}
    assert record["num_calls"] == 30 + 5 * 21  # 22 chunks from text
    with pytest.raises(ValueError, match="can only plan"):
        next(planner.stream("a fox"))


def test_from_config_overrides_are_dotted_and_strict():
    planner = LongVideoPipeline.from_config(FULL, dry_run=True, **{"scheduler.num_sampling_steps": 10,
                                                                   "schedule.window_frames": 102})
    assert planner.networks.scheduler.num_sampling_steps == 10
    assert planner.plan(num_frames=170)["num_calls"] == 10 + (10 - 1) * 2  # S + (N - 1) m, K = 5, m = 2
    with pytest.raises(ConfigKeyError, match="Did you mean scheduler.num_sampling_steps"):
        LongVideoPipeline.from_config(FULL, dry_run=True, **{"scheduler.num_sampling_step": 12})
    with pytest.raises(ValueError, match="give one length"):
        planner.plan(seconds=2, num_frames=48)
