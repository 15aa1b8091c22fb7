"""Bad input to scripts/train.py gives one line, exit code 2 and no experiment folder (issue 13); switching the
objective from the command line works, the tiny FoPP / Open-Sora configs train, and the log says what runs.

Runs the command line in-process through its wrapper (``run_cli``), as ``python scripts/train.py`` does. The
ids are rows of the README table "What happens on bad input" (tests/test_readme.py checks they agree).
"""
import json
import re
from pathlib import Path

import pytest

from media import make_dataset
from opensora.training import cli, loop
from opensora.utils import files
from opensora.utils.cli import run_cli
from opensora.utils.logging import setup_logging

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "configs/pavdm/train_tiny_cpu.py")


def run(capsys, *argv):
    setup_logging(0, None)  # log to this test's stderr (not to a handler left by an earlier test)
    code = run_cli(cli.main, [str(a) for a in argv], stop_hint=cli.STOP_HINT)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert "Traceback" not in err and len(errors) <= 1, err
    return code, (errors[0] if errors else None), err


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("data")
    csv = make_dataset(tmp / "clips", num_good=4, num_frames=60, short=0, corrupt=0, with_counts=True)
    (tmp / "no_text.csv").write_text("path,caption\nclips/good0.mp4,x\n")
    (tmp / "typo.py").write_text(f"_base_ = [{TINY!r}]\nbatch_sise = 2\n")
    (tmp / "features.csv").write_text("path,text,num_frames,height,width,fps\nf.safetensors,x,51,32,48,24\n")
    (tmp / "ckpts/epoch0-global_step2.tmp").mkdir(parents=True)
    return dict(tmp=tmp, csv=csv)


# id -> (config or None for the tiny one, arguments, regex of the one-line message)
CASES = {
    "train-missing-csv": (None, ["--data-path", "{tmp}/nothere.csv"],
                          r"dataset CSV .*nothere\.csv \(--data-path\) does not exist; build one with `python "
                          r"tools/build_csv\.py"),
    "train-missing-column": (None, ["--data-path", "{tmp}/no_text.csv"],
                             r"no_text\.csv lacks the columns \['text'\]; found \['path', 'caption'\]"),
    "train-unknown-cfg-option": (None, ["--cfg-options", "optimizer.lrr=1"],
                                 r"unknown config key 'optimizer\.lrr'.*Did you mean optimizer\.lr"),
    "train-config-file-misspelt-key": ("{tmp}/typo.py", [],
                                       r"unknown key\(s\) in the training config .*typo\.py: 'batch_sise' \(did you "
                                       r"mean batch_size"),
    "train-batch-size-0": (None, ["--batch-size", "0"], r"batch_size=0 \(--batch-size\) must be an integer >= 1"),
    "train-unknown-plugin": (None, ["--plugin", "zero3"],
                             r"plugin='zero3' \(--plugin\) does not exist for backend='colossalai'; use one of "
                             r"\('zero2', 'ddp'\)"),
    "train-sp-size-0": (None, ["--cfg-options", "sp_size=0"], r"sp_size=0 must be an integer >= 1"),
    "train-sp-size-not-dividing-heads": (None, ["--cfg-options", "sp_size=3"],
                                         r"sp_size=3 does not divide the model's num_heads=2: .*use sp_size in "
                                         r"\[1, 2\]"),
    "train-sp-size-without-torchrun": (None, ["--cfg-options", "sp_size=2"],
                                       r"sp_size=2 needs 2 processes per group, but this is a single process; "
                                       r"launch it with torchrun --nproc_per_node=2 \(or a multiple of 2\) "
                                       r"scripts/train\.py"),
    "train-lr-not-finite": (None, ["--lr", "nan"], r"optimizer\.lr=nan \(--lr\) must be a finite number > 0"),
    "train-load-tmp-checkpoint": (None, ["--load", "{tmp}/ckpts/epoch0-global_step2.tmp"],
                                  r"--load .*epoch0-global_step2\.tmp is an incomplete checkpoint left by an "
                                  r"interrupted save"),
    "train-load-missing": (None, ["--load", "{tmp}/ckpts/epoch9-global_step9"], r"epoch9-global_step9 does not "
                                                                                r"exist"),
    "train-features-bucket-mismatch": (str(REPO / "configs/pavdm/train_features.py"),
                                       ["--data-path", "{tmp}/features.csv", "--cfg-options", "buckets=[(17,1.0)]"],
                                       r"no full batch in epoch 0.*feature rows only serve a bucket of exactly their "
                                       r"frame count, and these hold \[51\] frames: set buckets=\[\(51, 1\.0\)\]"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_user_errors_are_one_line_and_leave_no_folder(case, data, tmp_path, capsys):
    config, args, pattern = CASES[case]
    argv = [str(a).replace("{tmp}", str(data["tmp"])) for a in args]
    config = (config or TINY).replace("{tmp}", str(data["tmp"]))
    if "--data-path" not in argv:
        argv = ["--data-path", str(data["csv"]), *argv]
    code, error, _ = run(capsys, config, *argv, "--outputs", tmp_path / "out", "--max-steps", "1")
    assert code == 2 and error and re.search(pattern, error), error
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.fixture(scope="module")
def switched(data, tmp_path_factory):
    """2 steps of the tiny PA config with objective.type=fopp from the command line (ColossalAI ZeRO-2)."""
    out = tmp_path_factory.mktemp("fopp")
    setup_logging(0, None)
    code = run_cli(cli.main, [TINY, "--data-path", str(data["csv"]), "--outputs", str(out), "--max-steps", "2",
                              "--cfg-options", "objective.type=fopp"])
    assert code == 0
    (exp,) = out.iterdir()
    return exp


def test_objective_switch_on_the_command_line_trains(switched):
    rows = [json.loads(r) for r in (switched / "metrics.jsonl").read_text().splitlines()]
    assert [r["window"] for r in rows] == ["fopp", "fopp"]
    assert all(r["grad_norm"] > 0 for r in rows)  # the ColossalAI backend logs the gradient norm
    log = (switched / "log.txt").read_text()
    assert "backend colossalai, plugin zero2, dtype fp32" in log and "grad_norm" in log


@pytest.mark.parametrize("name,window", [("train_tiny_fopp_cpu.py", "fopp"), ("train_tiny_opensora_cpu.py", "clip")])
def test_tiny_objective_configs_train(name, window, data, tmp_path, capsys):
    code, error, _ = run(capsys, REPO / "configs/pavdm" / name, "--data-path", data["csv"], "--outputs", tmp_path,
                         "--max-steps", "2", "--cfg-options", "ckpt_every=0")
    assert code == 0 and error is None
    (exp,) = tmp_path.iterdir()
    rows = [json.loads(r) for r in (exp / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and {r["window"] for r in rows} == {window}


def test_resume_reports_stale_incomplete_checkpoints(switched, data, tmp_path, capsys):
    ckpt = switched / "epoch0-global_step2"
    (switched / "epoch0-global_step3.tmp").mkdir()
    code, error, err = run(capsys, TINY, "--data-path", data["csv"], "--outputs", tmp_path, "--max-steps", "3",
                           "--load", ckpt, "--cfg-options", "objective.type=fopp")
    assert code == 0 and error is None
    assert re.search(r"holds 1 incomplete checkpoint\(s\) left by interrupted saves .*epoch0-global_step3\.tmp", err)
    assert f"resumed from {ckpt} at epoch 0, batch 2, global step 2" in err


def test_full_disk_at_a_checkpoint_is_one_line(data, tmp_path, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 2112 vs 2000")

    monkeypatch.setattr(loop, "save_checkpoint", full)
    monkeypatch.setattr(files, "_free_bytes", lambda directory: 0)
    code, error, _ = run(capsys, TINY, "--data-path", data["csv"], "--outputs", tmp_path, "--max-steps", "1")
    assert code == 2 and re.search(r"a write came out short \(usually a full disk\) in .*000-train_tiny_cpu \(0 MiB free "
                                   r"now; RuntimeError: .*inline_container\.cc.*\); epoch0-global_step1\.tmp is "
                                   r"incomplete and can be deleted; free space, then resume with a new run", error), error


# README rows covered by the tests above that are not in CASES (id -> test)
OTHER_CASES = {
    "train-objective-switch": test_objective_switch_on_the_command_line_trains,
    "train-stale-tmp-checkpoint": test_resume_reports_stale_incomplete_checkpoints,
    "train-disk-full": test_full_disk_at_a_checkpoint_is_one_line,
    "train-nan-loss": "test_train_torchrun.py::test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint",
}
CASE_IDS = set(CASES) | set(OTHER_CASES)
