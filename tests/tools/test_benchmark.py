"""tools/benchmark.py: a quick CPU smoke run on the tiny config writes a consistent markdown + JSON table."""
import json

import pytest
import torch

from opensora.acceleration.cost_model import CallShape, stdit3_flops
from opensora.models.stdit import STDiT3Config
from tools.benchmark import main

TINY = "configs/pavdm/infer_tiny_cpu.py"


def test_cpu_smoke_run_writes_the_table(tmp_path, capsys):
    main([TINY, "--attention", "sdpa", "math", "flash", "--iters", "1", "--warmup", "1",
          "--peak-tflops", "1.0", "--model-options", "depth=2", "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "benchmark.json").read_text())
    assert [r["attention"] for r in rows] == ["sdpa", "math", "flash"]
    sdpa = rows[0]
    assert sdpa["latents"] == "35x4x6" and sdpa["tokens"] == 2 * 35 * 2 * 3 and sdpa["model"] == "STDiT3 (depth=2)"
    cfg = STDiT3Config(depth=2, hidden_size=32, num_heads=2, caption_channels=16, model_max_length=8)
    assert sdpa["tflop_per_call"] == pytest.approx(stdit3_flops(cfg, CallShape(2, 35, 4, 6, 8))["total"] / 1e12)
    for r in rows[:2]:
        assert r["ms_per_call"] >= r["ms_best"] > 0 and r["peak_memory_gb"] > 0
        assert r["tflops"] == pytest.approx(r["tflop_per_call"] / (r["ms_per_call"] / 1000))
        assert r["mfu"] == pytest.approx(r["tflops"])  # against a 1 TFLOP/s peak
        assert r["latent_frames_per_s"] == pytest.approx(35 / (r["ms_per_call"] / 1000))
    if not torch.cuda.is_available():
        assert rows[2]["ms_per_call"] is None and rows[2]["note"].startswith("skipped: flash-attn")
    table = (tmp_path / "benchmark.md").read_text()
    assert table.count("| infer_tiny_cpu.py |") == 3 and "| ms/call | best |" in table and "MFU" in table
    assert "| infer_tiny_cpu.py |" in capsys.readouterr().out


@pytest.mark.slow
def test_torch_compile_case_runs(tmp_path):
    main([TINY, "--compile", "on", "--compile-backend", "eager", "--iters", "1", "--warmup", "1",
          "--out", str(tmp_path)])
    (row,) = json.loads((tmp_path / "benchmark.json").read_text())
    assert row["compile"] is True and row["ms_per_call"] > 0
