"""Sequence-parallel STDiT3: 2 gloo processes against the single-process model, plus the group arithmetic.

The 2-process checks run in one ``torchrun`` launch (``sp_worker.py``, about 15 s on 2 CPU cores, mostly
imports); the figures it measures are asserted here and printed with ``-s``.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from opensora.acceleration.parallel_states import (
    data_parallel_shard,
    get_parallel_groups,
    group_seed,
    init_parallel_groups,
    is_group_writer,
    parallel_layout,
)
from opensora.models.layers.sequence_parallel import check_heads
from opensora.models.stdit import STDiT3, STDiT3Config

REPO = Path(__file__).resolve().parents[2]
F32 = 1e-5  # float32 round-off budget (relative to the largest value)


def launch(out: Path, *extra) -> dict:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           str(REPO / "tests/acceleration/sp_worker.py"), str(out), *extra]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", PYTHONPATH=str(REPO))
    # about 30 s on an idle 2-core machine; the limit is generous for a loaded one
    run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]
    result = json.loads(out.read_text())
    print(json.dumps(result, indent=1))
    return result


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    return launch(tmp_path_factory.mktemp("sp") / "result.json")


@pytest.mark.slow
def test_sp_forward_equals_single_process(measured):
    assert measured["world"] == 2
    assert set(measured["forward"]) == {"odd_tokens_9", "even_tokens_6", "heads4_tokens_15", "patch1_tokens_7"}
    for name, d in measured["forward"].items():  # per-frame t, an x_mask frame, a partial caption mask
        assert d["rel"] <= F32, (name, d)


@pytest.mark.slow
def test_sp_refuses_heads_that_do_not_divide(measured):
    msg = measured["refusal"]
    assert "num_heads 3" in msg and "sp_size 2" in msg and "[1, 3]" in msg, msg


@pytest.mark.slow
def test_sp_gradients_equal_single_process(measured):
    for key in ("gradients", "gradients_ckpt"):  # without / with gradient checkpointing
        assert measured[key]["loss"]["rel"] <= F32, measured[key]
        assert measured[key]["grads"]["rel"] <= 1e-5, measured[key]


@pytest.mark.slow
def test_sp_training_steps_equal_plain_adamw(measured):
    train = measured["train"]  # TorchBackend: DDP + ZeroRedundancyOptimizer over the 2 ranks
    assert train["steps"] == 3
    assert train["losses"]["rel"] <= F32 and train["params"]["rel"] <= F32, train
    assert train["grads"]["abs"] <= 1e-5, train


@pytest.mark.slow
def test_sp_training_with_colossalai_zero2_equals_plain_adamw(tmp_path):
    pytest.importorskip("colossalai")
    zero2 = launch(tmp_path / "zero2.json", "zero2")["zero2"]  # LowLevelZero stage 2 over the 2 ranks
    assert zero2["steps"] == 3
    assert zero2["losses"]["rel"] <= F32 and zero2["params"]["rel"] <= F32, zero2


@pytest.mark.slow
def test_sp_generation_equals_single_process(measured):
    gen = measured["generation"]
    assert gen["calls"] > 5 and gen["shape"] == [1, 4, 10, 5, 6]
    assert gen["latents"]["rel"] <= F32, gen
    assert gen["ranks_bitwise_equal"]  # both ranks hold the gathered prediction, so the same latents


@pytest.mark.slow
def test_broadcast_in_group_uses_the_first_rank(measured):
    assert measured["broadcast"] == {"t": [0.0, 0.0, 0.0], "drop": [False]}


# ---------------------------------------------------------------- single process
def test_layout_groups_contiguous_sp_and_strided_dp():
    layout = parallel_layout(8, 4)
    assert layout.dp_size == 2
    assert layout.sp_ranks(0) == [0, 1, 2, 3] and layout.sp_ranks(1) == [4, 5, 6, 7]
    assert layout.dp_ranks(0) == [0, 4] and layout.dp_ranks(3) == [3, 7]
    assert [layout.coordinates(r) for r in (0, 3, 5)] == [(0, 0), (0, 3), (1, 1)]
    with pytest.raises(ValueError, match=r"sp_size 3 does not divide the world size 8; use one of \[1, 2, 4, 8\]"):
        parallel_layout(8, 3)


def test_single_process_groups_and_sharding():
    groups = init_parallel_groups(1)
    try:
        assert (groups.dp_size, groups.sp_size, groups.dp_rank, groups.sp_rank) == (1, 1, 0, 0)
        assert groups.sp_group is None and is_group_writer(groups) and group_seed(42, groups) == 42
        assert data_parallel_shard(["a", "b", "c"], groups) == ["a", "b", "c"]
    finally:
        init_parallel_groups(1)
    assert get_parallel_groups().sp_size == 1


def test_check_heads_names_values_and_fix():
    check_heads(16, 8)
    with pytest.raises(ValueError, match=r"num_heads 16 is not divisible by sp_size 3.*\[1, 2, 4, 8, 16\]"):
        check_heads(16, 3)


def test_sp_flag_without_group_is_the_plain_model_with_the_same_keys():
    cfg = dict(depth=1, hidden_size=32, num_heads=2, caption_channels=16, model_max_length=4)
    plain = STDiT3(STDiT3Config(**cfg)).eval()
    sp = STDiT3(STDiT3Config(**cfg, enable_sequence_parallelism=True)).eval()
    assert list(sp.state_dict()) == list(plain.state_dict())  # checkpoints move freely between sp sizes
    sp.load_state_dict(plain.state_dict())
    gen = torch.Generator().manual_seed(0)
    kw = dict(x=torch.randn(1, 4, 2, 3, 4, generator=gen), timestep=torch.tensor([[500.0, 20.0]]),
              y=torch.randn(1, 1, 4, 16, generator=gen), fps=24, height=24, width=32)
    with torch.no_grad():
        assert torch.equal(sp(**kw), plain(**kw))
