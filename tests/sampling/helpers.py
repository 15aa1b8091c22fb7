"""Run scripts/inference.py in-process (its ``main(argv)``) for tests."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs/pavdm/infer_tiny_cpu.py")
FULL = str(ROOT / "configs/pavdm/infer_60s.py")


def load_inference_script():
    spec = importlib.util.spec_from_file_location("pavdm_inference_script", ROOT / "scripts/inference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_inference(*argv):
    return load_inference_script().main([str(a) for a in argv])
