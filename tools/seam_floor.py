#!/usr/bin/env python
"""The floor of the long-video metrics: the ground truth and the VAE's reconstruction of it, on a comparison's prompts.

    python tools/seam_floor.py --out reports/tiny_comparison/floor --num-prompts 6 --seconds 60
    python tools/seam_floor.py --out /tmp/floor --seconds 10 --cfg-options vae.seam_frames=0

A generated video can only be as seamless, sharp and true to its caption as the VAE lets it be, and a seam value
means little without the ground truth's own frame difference at the same pan speed (a 2 px/frame pan differs by
about 3.6 (0-255) between any two frames). This tool renders, for the same held-out captions as
``tools/compare_methods.py`` (``select_prompts``, or ``--prompt-path``), the ground-truth video of caption i from
the synthetic world with seed 1000 + i (the world whose first 17 frames ``compare_methods --modes extend``
continues), encodes and decodes it with the inference config's VAE (``--config``, default the embedded model's
``configs/pavdm/infer_60s_tiny.py``; ``--cfg-options`` changes it, e.g. ``vae.seam_frames=0``), and scores both
with ``tools.eval`` exactly as the comparison scores generated videos. Writes to ``--out``:

    gt/sample_<i>.mp4, vae/sample_<i>.mp4     the videos (+ caption sidecars)
    clips.csv, videos.csv, metrics.json, plots/   tools.eval's outputs, methods ``gt`` and ``vae``
    README.md                                 the command and a table of the metrics per method and per video
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from opensora.registry import MODELS, build_module  # noqa: E402
from opensora.utils.cli import run_cli  # noqa: E402
from opensora.utils.config import load_config, parse_options  # noqa: E402
from opensora.utils.video_io import from_uint8, to_uint8  # noqa: E402
from tools.compare_methods import REFERENCE_SEED, read_prompt_file, select_prompts  # noqa: E402
from tools.eval import report  # noqa: E402
from tools.eval.evaluate import EvalOptions  # noqa: E402
from tools.eval.evaluate import run as evaluate_run  # noqa: E402
from tools.synthetic import World, WorldSpec, write_mp4  # noqa: E402
from tools.synthetic.captions import parse_caption  # noqa: E402

COLUMNS = ["seam_diff", "seam_ratio", "frame_diff", "sharpness", "shift_error", "direction_ok", "palette_error"]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="output folder (created)")
    p.add_argument("--num-prompts", type=int, help="held-out captions, as compare_methods picks them (default 6; "
                   "with --prompt-path: the first N lines, default all)")
    p.add_argument("--prompt-path", type=Path, help="captions of the synthetic world, one per line, instead")
    p.add_argument("--seconds", type=float, default=60.0, help="length of each video (default 60)")
    p.add_argument("--config", type=Path, default=REPO / "configs" / "pavdm" / "infer_60s_tiny.py",
                   help="inference config whose vae and image_size are used")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="config overrides")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    if a.seconds <= 0:
        p.error(f"--seconds must be positive, got {a.seconds}")
    return a


def captions(a) -> list[tuple]:
    """(text, Caption) per prompt, all parsed before any work (a clear error for a caption the world cannot render)."""
    prompts = (read_prompt_file(a.prompt_path, a.num_prompts) if a.prompt_path
               else select_prompts(6 if a.num_prompts is None else a.num_prompts))
    return [(text, parse_caption(text)) for text in prompts]


def main(argv=None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    a = parse_args(argv)
    cfg = load_config(a.config, parse_options(a.cfg_options))
    height, width = tuple(cfg.image_size)
    vae = build_module(cfg.vae, MODELS).eval()
    prompts = captions(a)
    dirs = {name: a.out / name for name in ("gt", "vae")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    for i, (text, caption) in enumerate(tqdm(prompts, desc="render + VAE", disable=a.no_progress)):
        world = World(WorldSpec(caption, seed=REFERENCE_SEED + i, width=width, height=height))
        frames = np.stack(list(world.frames(int(round(a.seconds * world.spec.fps)))))
        with torch.no_grad():
            x = from_uint8(frames)[None]
            rec = to_uint8(vae.decode(vae.encode(x, generator=torch.Generator().manual_seed(i)),
                                      num_frames=len(frames))[0])
        for name, video in (("gt", frames), ("vae", rec)):
            write_mp4(dirs[name] / f"sample_{i:04d}.mp4", video, fps=world.spec.fps)
            (dirs[name] / f"sample_{i:04d}.json").write_text(json.dumps({"caption": text}) + "\n")
    results = evaluate_run([str(dirs["gt"]), str(dirs["vae"])], ["gt", "vae"], a.out, EvalOptions(scenes=False),
                           progress=not a.no_progress)
    write_readme(a.out, "python tools/seam_floor.py " + shlex.join(argv), [t for t, _ in prompts], results)
    return results


def write_readme(out: Path, command: str, prompts: list[str], results: dict) -> None:
    table = ["| method | " + " | ".join(COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    for method, videos in results.items():
        summary = report.method_summary(videos, COLUMNS)
        table.append(f"| {method} | " + " | ".join(f"{summary[c]:.3g}" for c in COLUMNS) + " |")
    lines = ["# Metric floor: ground truth and its VAE reconstruction", "", "```", command, "```", "",
             "Means over the videos' clips (tools.eval, no scene detection); `gt` = the synthetic world's video of "
             "each caption (seed 1000 + i), `vae` = that video encoded and decoded by the config's VAE.", "",
             *table, "", "Per video:", "", "| video | caption | " + " | ".join(f"{m} seam_diff" for m in results) + " |",
             "|---|---|" + "---|" * len(results)]
    for i, text in enumerate(prompts):
        lines.append(f"| {i} | {text} | " + " | ".join(f"{results[m][i]['summary']['seam_diff']:.3g}"
                                                      for m in results) + " |")
    (out / "README.md").write_text("\n".join(lines) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    sys.exit(run_cli(lambda argv: main(argv) and 0))
