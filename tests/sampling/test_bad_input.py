"""Bad input to scripts/inference.py never gives a traceback, a silent success or a garbage video (issue 13).

Each case runs the command line in-process through its wrapper (``run_cli``), as ``python scripts/inference.py``
does, and checks the exit code and the one-line ``error:`` message (the offending value and the fix). The
ids are the rows of the README table "What happens on bad input" (tests/test_readme.py checks they agree).
"""
import json
import re
import shutil
import signal

import pytest
import torch

from opensora.sampling import cli, pipeline
from opensora.sampling.schedules import build_plan
from opensora.utils import dist, files
from opensora.utils.cli import run_cli
from opensora.utils.logging import setup_logging
from opensora.utils.video_io import read_video

from .helpers import TINY
from .test_video_io import make_clip

FAST = ["--num-frames", "2s", "--num-sampling-steps", "6", "--cfg-options", "progress=False"]


def run(capsys, *argv):
    """(exit code, the one ``error:`` line or None, all of stderr) of the command line on ``argv``."""
    setup_logging(0, None)  # log to this test's stderr (not to a handler left by an earlier test)
    code = run_cli(cli.main, [str(a) for a in argv], stop_hint=cli.STOP_HINT)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert "Traceback" not in err and len(errors) <= 1, err
    return code, (errors[0] if errors else None), err


def _files(tmp_path):
    """Bad files: config chain with a syntax error / a misspelt key, a non-UTF-8 prompt file, broken weights."""
    (tmp_path / "syntax.py").write_text(f"_base_ = [{TINY!r}]\nseed = (\n")
    (tmp_path / "typo.py").write_text(f"_base_ = [{TINY!r}]\nnum_frame = 17\n")
    (tmp_path / "latin1.txt").write_bytes("a fox\nun renard \xe9l\xe9gant\n".encode("latin-1"))
    (tmp_path / "empty.safetensors").write_bytes(b"")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(64)}, str(tmp_path / "full.safetensors"))
    data = (tmp_path / "full.safetensors").read_bytes()
    (tmp_path / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    make_clip(tmp_path / "short.mp4", 16)
    (tmp_path / "prompts.txt").write_text(f"a fox\na cat||{tmp_path / 'short.mp4'}\n")
    (tmp_path / "a_file").write_text("not a folder")
    return tmp_path


# id -> (arguments after the config, regex of the one-line message); all exit with code 2 before any weights
UP_FRONT = {
    "cfg-scale-nan": (["--cfg-scale", "nan"], r"cfg_scale=nan must be a finite number, e\.g\. cfg_scale=7\.0"),
    "cfg-scale-inf": (["--cfg-scale", "inf"], r"cfg_scale=inf must be a finite number"),
    "cfg-scale-text": (["--cfg-options", "cfg_scale=abc"], r"cfg_scale='abc' must be a finite number"),
    "fps-text": (["--cfg-options", "fps=abc"], r"fps='abc' must be an integer >= 1, e\.g\. fps=24"),
    "schedule-not-a-dict": (["--cfg-options", "schedule=pa"],
                            r"schedule='pa' must be a dict .*--cfg-options schedule\.type=pa"),
    "schedule-option-text": (["--cfg-options", "schedule.window_frames=abc"],
                             r"schedule\.window_frames='abc' must be an integer \(default 119\)"),
    "steps-text": (["--cfg-options", "scheduler.num_sampling_steps=abc"],
                   r"scheduler\.num_sampling_steps='abc' must be an integer \(default 30\)"),
    "seed-23-digits": (["--seed", "12345678901234567890123"], r"seed=12345678901234567890123 must be an integer in "
                                                              r"\[0, 9223372036854775807\]"),
    "num-frames-0s": (["--num-frames", "0s"], r"num_frames='0s' is 0 frames at 24 fps; give at least one frame"),
    "num-sample-0": (["--num-sample", "0"], r"num_sample=0 must be an integer >= 1"),
    "batch-size-0": (["--batch-size", "0"], r"batch_size=0 must be an integer >= 1"),
    "resolution-with-image-size": (["--resolution", "720p"], r"resolution='720p' would be ignored: "
                                                             r"image_size=\(32, 48\) is set .*image_size=None"),
    "aspect-ratio-with-image-size": (["--aspect-ratio", "1:1"], r"aspect_ratio='1:1' would be ignored"),
    "unknown-cfg-option": (["--cfg-options", "scheduler.num_sampling_step=10"],
                           r"unknown config key 'scheduler\.num_sampling_step'.*Did you mean scheduler\."
                           r"num_sampling_steps"),
    "timeline-after-end": (["--prompt", "a fox|0| a fox jumps|20|"],
                           r"--prompt #1: the timeline segment 'a fox jumps' starts at 20 s, but the video is 2 s "
                           r"long .*would never be used"),
    "malformed-timeline": (["--prompt", "a fox|0| jumps|later|"], r"'later' is not a number of seconds"),
    "non-utf8-prompt-file": (["--prompt-path", "{tmp}/latin1.txt"],
                             r"latin1\.txt:2: not UTF-8 text \(byte 0xe9 at column 11\); save the prompt file as "
                             r"UTF-8"),
    "prompt-file-checks-every-video": (["--prompt-path", "{tmp}/prompts.txt"],
                                       r"reference clip .*short\.mp4 has 16 frames, but at least 17 are needed"),
    "reference-missing": (["--prompt", "a fox||{tmp}/nothere.mp4"], r"reference .*nothere\.mp4 does not exist"),
    "save-dir-is-a-file": (["--save-dir", "{tmp}/a_file"], r"--save-dir .*a_file is a file, not a folder"),
    "weights-empty": (["--ckpt-path", "{tmp}/empty.safetensors"],
                      r"cannot read weights .*empty\.safetensors \(0 bytes\) as safetensors: .*download or export "
                      r"it again"),
    "weights-truncated": (["--ckpt-path", "{tmp}/truncated.safetensors"],
                          r"cannot read weights .*truncated\.safetensors \(\d+ bytes\)"),
    "sp-size-0": (["--cfg-options", "sp_size=0"], r"sp_size=0 must be an integer >= 1 \(ranks per sequence-parallel "
                                                  r"group\), e\.g\. sp_size=1"),
    "sp-size-not-dividing-heads": (["--cfg-options", "sp_size=3"],
                                   r"sp_size=3 does not divide the model's num_heads=2: sequence parallelism splits "
                                   r"the attention heads over the group; use sp_size in \[1, 2\]"),
    "sp-size-without-torchrun": (["--cfg-options", "sp_size=2"],
                                 r"sp_size=2 needs 2 processes per group, but this is a single process; launch it "
                                 r"with torchrun --nproc_per_node=2 \(or a multiple of 2\) scripts/inference\.py"),
    "weights-missing": (["--ckpt-path", "/nonexistent/stdit.safetensors"],
                        r"could not find weights '/nonexistent/stdit\.safetensors'.*local copy"),
}
CONFIG_FILE_CASES = {  # id -> (config, regex)
    "config-syntax-error": ("{tmp}/syntax.py", r"config .*syntax\.py, line 2: syntax error: '\(' was never closed"),
    "config-file-misspelt-key": ("{tmp}/typo.py",
                                 r"unknown key\(s\) in the inference config .*typo\.py: 'num_frame' \(did you mean "
                                 r"num_frames"),
}
DRY_RUN_CASES = {  # id -> (arguments, regex): --dry-run checks what a real run checks
    "dry-run-reference-without-prompt": (["--reference-path", "{tmp}/nothere.mp4"],
                                         r"reference .*nothere\.mp4 does not exist"),
    "dry-run-prompt-file-checks-every-video": (["--prompt-path", "{tmp}/prompts.txt"],
                                               r"short\.mp4 has 16 frames, but at least 17"),
    "dry-run-timeline-after-end": (["--prompt", "a|0| b|20|", "--num-frames", "2s"], r"starts at 20 s"),
}


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return _files(tmp_path_factory.mktemp("bad"))


def _fill(args, tmp):
    return [str(a).replace("{tmp}", str(tmp)) for a in args]


@pytest.mark.parametrize("case", sorted(UP_FRONT))
def test_up_front_errors_are_one_line(case, bad, tmp_path, capsys, monkeypatch):
    args, pattern = UP_FRONT[case]
    build = pipeline._build_networks

    def plan_only(cfg, device, dry_run):  # nothing but the dry-run VAE may be built before these checks
        assert dry_run, "networks were built before the input was checked"
        return build(cfg, device, dry_run)

    monkeypatch.setattr(pipeline, "_build_networks", plan_only)
    argv = _fill(args, bad)
    prompt = [] if any(a in argv for a in ("--prompt", "--prompt-path")) else ["--prompt", "a fox"]
    save = [] if "--save-dir" in argv else ["--save-dir", tmp_path / "out"]
    if case.startswith("weights"):
        monkeypatch.undo()  # weights are read when the networks are built (after every other check)
    code, error, _ = run(capsys, TINY, *prompt, *save, *FAST[:4], *argv, *FAST[4:])
    assert code == 2 and error and re.search(pattern, error), error


@pytest.mark.parametrize("case", sorted(CONFIG_FILE_CASES))
def test_config_file_errors(case, bad, tmp_path, capsys):
    config, pattern = CONFIG_FILE_CASES[case]
    code, error, _ = run(capsys, _fill([config], bad)[0], "--dry-run", "--plan-out", tmp_path / "plan.json")
    assert code == 2 and re.search(pattern, error), error


@pytest.mark.parametrize("case", sorted(DRY_RUN_CASES))
def test_dry_run_checks_what_a_run_checks(case, bad, tmp_path, capsys):
    args, pattern = DRY_RUN_CASES[case]
    code, error, _ = run(capsys, TINY, "--dry-run", "--plan-out", tmp_path / "plan.json", *_fill(args, bad))
    assert code == 2 and re.search(pattern, error), error
    assert not (tmp_path / "plan.json").exists()


def test_read_only_save_dir(tmp_path, capsys, monkeypatch):
    """(Run as root, chmod does not stop writes: the refusal of the probe file is simulated.)"""
    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    code, error, _ = run(capsys, TINY, "--prompt", "a fox", "--save-dir", tmp_path / "ro", *FAST)
    assert code == 2 and re.search(r"--save-dir .*ro is not writable \(PermissionError: Permission denied\)", error)


@pytest.mark.parametrize("size", [(32, 32), (33, 47)])
def test_top_level_is_exact_and_dry_run_runs_the_sampler_check(size, tmp_path, capsys):
    """1000.0000000000001 at the top of the transformed levels failed a real run at these sizes."""
    from opensora.sampling import LongVideoPipeline

    pipe = LongVideoPipeline.from_config(TINY, dry_run=True, image_size=size)
    for ref in (False, True):
        plan = build_plan({"type": "pa"}, vae=pipe.networks.vae, geom=pipe.geometry(num_frames=200),
                          scheduler=pipe.networks.scheduler, has_reference=ref)
        assert float(plan.levels.max()) == 1000.0 and float(plan.levels.min()) == 0.0
    code, error, _ = run(capsys, TINY, "--prompt", "a fox", "--save-dir", tmp_path, *FAST,
                         f"image_size=({size[0]},{size[1]})")
    assert code == 0 and error is None
    assert read_video(tmp_path / "sample_0000.mp4").shape[0] == 48


def test_dry_run_refuses_a_plan_the_sampler_refuses(tmp_path):
    """The entry-level check runs on the plan (dry run and real run alike): a level of 1000.0000000000001."""
    from opensora.sampling.sliding_window import check_entry_levels
    from opensora.schedulers.noise_schedules import pa_inference_schedule

    plan = pa_inference_schedule(4, ratio=1.0, num_noisy_chunks=2, num_steps=4, num_ref_chunks=0)
    plan.levels[plan.levels == 1000.0] = 1000.0000000000001
    with pytest.raises(ValueError, match=r"chunk 0 enters the window at level 1000\.0000000000001 in iteration 0"):
        check_entry_levels(plan)


def test_non_finite_velocity_stops_naming_the_call_and_chunk(tmp_path, capsys, monkeypatch):
    original = pipeline.make_denoiser

    def nan_after(*args, **kwargs):
        denoise, calls = original(*args, **kwargs), [0]

        def broken(z, t, idx):
            calls[0] += 1
            v = denoise(z, t, idx)
            return v * float("nan") if calls[0] >= 7 else v
        return broken

    monkeypatch.setattr(pipeline, "make_denoiser", nan_after)
    code, error, _ = run(capsys, TINY, "--prompt", "a fox", "--save-dir", tmp_path, *FAST)
    assert code == 1 and re.search(r"the latents became NaN or inf in model call 7 of 8 \(iteration 6\), chunk\(s\) "
                                   r"\[1, 2\], sample\(s\) \[0\].*1 chunk\(s\) were finished before it", error), error
    state = torch.load(tmp_path / ".resume/sample_0000/state.pt", weights_only=True)
    assert state["state"]["num_yielded"] == 1  # the resume state stays at the last good chunk
    assert read_video(tmp_path / "sample_0000.mp4").shape[0] == 17 and not (tmp_path / "sample_0000.json").exists()


def test_resume_refuses_a_finished_video_of_another_run(tmp_path, capsys):
    assert run(capsys, TINY, "--prompt", "a fox", "--save-dir", tmp_path, *FAST)[0] == 0
    before = (tmp_path / "sample_0000.mp4").read_bytes()
    info = json.loads((tmp_path / "sample_0000.json").read_text())
    assert info["cfg_scale"] == 7.0 and info["num_sampling_steps"] == 6 and info["image_size"] == [32, 48]
    assert info["schedule"]["type"] == "pa" and info["fingerprint"]["seeds"] == [42]
    code, error, _ = run(capsys, TINY, "--prompt", "a cat", "--save-dir", tmp_path, "--resume", *FAST)
    assert code == 2 and re.search(r"sample_0000\.mp4 is a finished video of a different run .*differs in "
                                   r"\['prompts'\].*use another --save-dir, or drop --resume", error), error
    code, error, err = run(capsys, TINY, "--prompt", "a fox", "--save-dir", tmp_path, "--resume", *FAST)
    assert code == 0 and "already finished" in err  # the same run: skipped
    assert (tmp_path / "sample_0000.mp4").read_bytes() == before


def test_second_run_into_the_same_save_dir_is_refused(tmp_path, capsys):
    with files.DirLock(tmp_path):
        code, error, _ = run(capsys, TINY, "--prompt", "a fox", "--save-dir", tmp_path, *FAST)
    assert code == 2 and re.search(r"another run \(pid \d+\) is writing into .*choose another --save-dir", error)
    assert not (tmp_path / "sample_0000.mp4").exists()


def test_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    def full(self, video):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline.Mp4Writer, "write", full)
    code, error, _ = run(capsys, TINY, "--prompt", "a fox", "--save-dir", tmp_path, *FAST)
    assert code == 2 and re.search(r"no space left on the device of .*free some space or choose another --save-dir, "
                                   r"then rerun with --resume", error), error


def test_sigterm_stops_cleanly_and_every_written_chunk_is_playable(tmp_path, capsys, monkeypatch):
    """After each chunk the mp4 on disk (what a ``kill -9`` leaves) plays every chunk so far; SIGTERM stops
    with exit code 143 and one line, and --resume finishes the video."""
    original, seen = pipeline.ChunkSink.write, []

    def write_then_check(self, chunk):
        original(self, chunk)
        snapshot = tmp_path / f"killed_after_{chunk.index}.mp4"
        shutil.copy(self.writers[0].path, snapshot)  # the bytes on disk now, the file still open
        seen.append(read_video(snapshot).shape[0])
        if chunk.index == 1:
            signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(pipeline.ChunkSink, "write", write_then_check)
    code, error, _ = run(capsys, TINY, "--prompt", "a fox", "--save-dir", tmp_path / "out", *FAST)
    assert seen == [17, 34]
    assert code == 143 and error == f"error: stopped by SIGTERM; {cli.STOP_HINT}"
    assert read_video(tmp_path / "out/sample_0000.mp4").shape[0] == 34
    monkeypatch.setattr(pipeline.ChunkSink, "write", original)
    assert run(capsys, TINY, "--prompt", "a fox", "--save-dir", tmp_path / "out", "--resume", *FAST)[0] == 0
    assert read_video(tmp_path / "out/sample_0000.mp4").shape[0] == 48


def test_sp_size_must_divide_the_world_size(tmp_path, capsys, monkeypatch):
    """``torchrun --nproc_per_node=3 ... sp_size=2``, simulated: the check runs before any process group is used."""
    monkeypatch.setattr(cli.dist, "init_distributed", lambda: dist.DistInfo(0, 3, 0, torch.device("cpu")))
    code, error, _ = run(capsys, TINY, "--prompt", "a fox", "--save-dir", tmp_path, *FAST, "sp_size=2")
    assert code == 2 and re.search(r"sp_size 2 does not divide the world size 3; use one of \[1, 3\] \(or launch a "
                                   r"multiple of 2 processes\)", error), error
    assert not (tmp_path / "sample_0000.mp4").exists()


def test_schedule_type_switch_from_the_command_line(tmp_path, capsys):
    code, error, err = run(capsys, TINY, "--dry-run", "--plan-out", tmp_path / "plan.json", "--num-frames", "5s",
                           "--cfg-options", "schedule.type=rn")
    assert code == 0 and json.loads((tmp_path / "plan.json").read_text())["schedule"]["name"] == "rn"


def test_safetensors_with_a_pt_name_loads(tmp_path):
    from safetensors.torch import save_file

    from opensora.utils.ckpt import load_state_dict

    save_file({"w": torch.arange(4.0)}, str(tmp_path / "weights.pt"))
    assert torch.equal(load_state_dict(tmp_path / "weights.pt")["w"], torch.arange(4.0))


# README rows covered by the tests above that are not in the tables at the top (id -> test)
OTHER_CASES = {
    "save-dir-read-only": test_read_only_save_dir,
    "second-run-same-save-dir": test_second_run_into_the_same_save_dir_is_refused,
    "disk-full": test_full_disk_is_one_line,
    "non-finite-velocity": test_non_finite_velocity_stops_naming_the_call_and_chunk,
    "resume-finished-video-of-another-run": test_resume_refuses_a_finished_video_of_another_run,
    "sigterm": test_sigterm_stops_cleanly_and_every_written_chunk_is_playable,
    "kill-9": "test_kill.py::test_killed_run_leaves_a_playable_video (and the test above: the bytes on disk)",
    "odd-image-sizes": test_top_level_is_exact_and_dry_run_runs_the_sampler_check,
    "plan-level-above-1000": test_dry_run_refuses_a_plan_the_sampler_refuses,
    "schedule-type-switch": test_schedule_type_switch_from_the_command_line,
    "sp-size-not-dividing-world": test_sp_size_must_divide_the_world_size,
    "safetensors-named-pt": test_safetensors_with_a_pt_name_loads,
}
CASE_IDS = set(UP_FRONT) | set(CONFIG_FILE_CASES) | set(DRY_RUN_CASES) | set(OTHER_CASES)


def test_settings_are_checked_when_made():
    """The Python API refuses the same values as the command line (from_components takes the settings)."""
    with pytest.raises(ValueError, match=r"cfg_scale=nan must be a finite number"):
        pipeline.SamplingSettings(cfg_scale=float("nan"))
    with pytest.raises(ValueError, match=r"batch_size=0 must be an integer >= 1"):
        pipeline.SamplingSettings(batch_size=0)
    with pytest.raises(ValueError, match=r"image_size=\(32,\) must be \(height, width\)"):
        pipeline.VideoSettings(image_size=(32,))
    with pytest.raises(ValueError, match=r"crf=99 must be an integer in \[0, 51\]"):
        pipeline.OutputSettings(crf=99)
