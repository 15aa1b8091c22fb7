"""Compare long-video inference methods of one model: generate, evaluate, and write a markdown report.

    python tools/compare_methods.py --out reports/tiny_comparison --num-prompts 4 --seconds 60
    python tools/compare_methods.py --out /tmp/cmp --num-prompts 1 --seconds 2 \
        --cfg-options model.from_pretrained=None            # smoke test: random weights

For every method (default: all of METHODS; ``--methods pa rn`` for a subset) and every mode (``--modes``:
``text`` = text-to-video, ``extend`` = extension of the first 17 frames of a held-out ground-truth video of the
same caption, ``prompt||clip.mp4``; run names ``pa`` and ``pa-ext``) this runs the inference pipeline
(``opensora.sampling.LongVideoPipeline``) with the method's config on the same prompts, seed, length and
weights, then scores every video with ``tools.eval`` (seam metrics included) and writes to ``--out``:

    README.md                  the report: command, machine, model, prompts, cost and metric tables, plots
    runs.json                  per method: config, wall time, model calls, videos
    prompts.txt                the prompts (one per line), as given to every method
    ground_truth/<name>.json   the caption of each video, for the ground-truth errors of tools.eval
    references/ref_<i>.mp4     the ground-truth clips that ``extend`` continues (tools.synthetic, seed 1000 + i)
    contact_sheet.png          a row of frames every ``--sheet-every`` seconds of each run's first video
    clips.csv, videos.csv, metrics.json, plots/<metric>.png   from tools.eval.evaluate.run
    videos/<method>/           mp4 + json sidecar + log.txt per method (mp4s removed by --no-keep-videos)

Prompts: the first ``--num-prompts`` held-out captions of the synthetic world (tools.synthetic.captions), in a
seeded order that spreads palettes, directions and speeds (``select_prompts``), or ``--prompt-path FILE``.

Methods (configs in ``--config-dir``, default configs/pavdm; ``--config NAME=PATH`` overrides one or adds a
new method NAME):

    pa  progressive autoregressive (PA-VDM)           infer_60s_tiny.py
    rn  replacement without noise (Open-Sora's loop)  infer_60s_tiny_rn.py
    rw  replacement with noise                        infer_60s_tiny_rw.py
    ad  AR-Diffusion scheduler                        infer_60s_tiny_ad.py

``--cfg-options key=value ...`` and ``--ckpt-path`` go to every method's inference run unchanged. Wall time
is measured around each method's whole inference call (network build + sampling + decoding + writing).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from opensora.sampling import LongVideoPipeline  # noqa: E402
from opensora.sampling.prompts import read_prompt_file as read_prompt_entries  # noqa: E402
from opensora.utils.config import parse_options  # noqa: E402
from opensora.utils.logging import setup_logging  # noqa: E402
from tools.eval import report as eval_report  # noqa: E402
from tools.eval.contact_sheet import contact_sheet  # noqa: E402
from tools.eval.evaluate import EvalOptions  # noqa: E402
from tools.eval.evaluate import run as evaluate_run  # noqa: E402
from tools.synthetic.captions import parse_caption, split_captions  # noqa: E402

METHODS = {"pa": "infer_60s_tiny.py", "rn": "infer_60s_tiny_rn.py", "rw": "infer_60s_tiny_rw.py",
           "ad": "infer_60s_tiny_ad.py"}
METHOD_TITLES = {"pa": "progressive autoregressive (PA-VDM)", "rn": "replacement without noise (Open-Sora loop)",
                 "rw": "replacement with noise", "ad": "AR-Diffusion scheduler"}
DEFAULT_CONFIG_DIR = REPO / "configs" / "pavdm"

# Columns of the main table (metrics.json / CSVs keep every metric) and how to read each one.
HEADLINE = ("seam_diff", "seam_ratio", "chunk_seam_ratio", "clip_seam_ratio", "motion_px", "dynamic_degree",
            "sharpness", "frame_consistency", "first_clip_consistency", "color_drift", "shift_error", "direction_ok",
            "palette_error", "num_scenes")
MODES = {"text": "", "extend": "-ext"}  # mode -> suffix of the run name
REFERENCE_FRAMES = 17  # one VAE chunk of ground truth to extend
REFERENCE_SEED = 1000  # world seed of reference i: 1000 + i (training videos use SeedSequence seeds)
HOW_TO_READ = {
    "seam_diff": "mean abs frame difference (0-255) at latent boundaries (the starts of the VAE's latents in a "
                 "17-frame chunk; for the chunk-basis VAEs the chunk boundaries); a visible seam when far above "
                 "the ground truth's frame difference at the same pan speed (about 1.1-1.2 / 2.3-2.5 / 3.1-3.6 at "
                 "0.5 / 1 / 2 px/frame: tools/seam_floor.py)",
    "seam_ratio": "seam_diff / the frame difference elsewhere; 1 = no seam (the ground truth and the ring VAE's "
                  "reconstruction of it give 1.0)",
    "chunk_seam_ratio": "the same at chunk boundaries (every 17 frames) only",
    "clip_seam_ratio": "the same at the first frame of each separately generated clip (RN / RW) or after the "
                       "reference (extension); n/a where there is none (PA / AD text-only)",
    "motion_px": "mean motion magnitude, px/frame; no better direction: compare with the prompt's speed "
                 "(0.5 / 1 / 2 px/frame for slowly / steadily / quickly), which shift_error does",
    "dynamic_degree": "fraction of frame pairs moving more than 0.25 px; higher = more dynamic (every "
                      "synthetic prompt pans, so 1 is the truth)",
    "sharpness": "variance of the Laplacian; higher = sharper; a fall over time means blurring",
    "frame_consistency": "colour-histogram cosine of consecutive frames; higher = smoother (1 = identical)",
    "first_clip_consistency": "colour-histogram cosine with the first clip; higher = closer to the start",
    "color_drift": "RGB distance (0-255) of a clip's mean colour from the first clip's; lower = less drift",
    "shift_error": "distance of the measured pan from the prompt's, px/frame; lower = better",
    "direction_ok": "fraction of clips panning in the prompt's direction; higher = better (1 = always)",
    "palette_error": "RGB distance (0-255) of the sky / near-hill bands from the prompt's palette; lower = better",
    "num_scenes": "scenes found by PySceneDetect per video; lower = better (every prompt is one shot: 1)",
}
HIGHER_IS_BETTER = {"seam_diff": False, "seam_ratio": False, "clip_seam_ratio": False, "dynamic_degree": True, "sharpness": True, "frame_consistency": True,
                    "first_clip_consistency": True, "color_drift": False, "shift_error": False,
                    "direction_ok": True, "palette_error": False, "num_scenes": False}
DRIFT_METRICS = ("sharpness", "frame_consistency", "shift_error", "palette_error", "seam_diff")


@dataclass
class MethodRun:
    """One method's inference run: what ran, how long it took and what it wrote."""

    method: str
    config: str
    video_dir: str
    wall_s: float
    videos: list
    model_calls: list  # per video, from the sidecars
    checkpoint: str | None  # the model weights the run used (model.from_pretrained), None = random init


# ---------------------------------------------------------------------------------------------- prompts

def select_prompts(num: int, seed: int = 0) -> list[str]:
    """``num`` held-out captions in a deterministic order that spreads field values.

    A seeded permutation breaks ties; each next caption is the one whose (direction, speed, palette, objects)
    values have been used least so far, so the first few cover every palette and both directions.
    """
    captions = split_captions("heldout")
    if not 1 <= num <= len(captions):
        raise ValueError(f"--num-prompts {num}: the held-out split has {len(captions)} captions; ask for "
                         f"1..{len(captions)}, or give your own prompts with --prompt-path")
    pool = [captions[i] for i in np.random.default_rng(seed).permutation(len(captions))]
    used: dict[tuple, int] = {}
    chosen = []
    for _ in range(num):
        best = min(pool, key=lambda c: sum(used.get(f, 0) for f in _fields(c)))
        pool.remove(best)
        chosen.append(best.text)
        for f in _fields(best):
            used[f] = used.get(f, 0) + 1
    return chosen


def _fields(caption) -> tuple:
    return tuple((f.name, getattr(caption, f.name)) for f in dataclasses.fields(caption))


def read_prompt_file(path, num: int | None) -> list[str]:
    lines = [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"--prompt-path {path} has no prompts; write one prompt per line")
    if num is not None and num > len(lines):
        raise ValueError(f"--num-prompts {num} but {path} has only {len(lines)} prompts; ask for fewer")
    return lines[:num] if num else lines


# -------------------------------------------------------------------------------------------- methods

def resolve_configs(methods: list[str], config_dir, overrides: list[str]) -> dict[str, Path]:
    """{method: config path} for ``methods``; ``overrides`` are NAME=PATH strings. Checks every file first."""
    extra = {}
    for item in overrides:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--config {item!r}: write NAME=PATH, e.g. --config pa=configs/pavdm/my_pa.py")
        extra[name] = Path(path)
    known = {m: Path(config_dir) / f for m, f in METHODS.items()} | extra
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; valid: {', '.join(known)} (or add one with "
                         f"--config NAME=PATH)")
    if len(set(methods)) != len(methods):
        raise ValueError(f"--methods {methods} names a method twice; list each once")
    missing = [f"{m}: {known[m]}" for m in methods if not known[m].is_file()]
    if missing:
        raise FileNotFoundError(f"missing inference config(s): {'; '.join(missing)}; fix --config-dir "
                                f"(now {config_dir}) or give --config NAME=PATH")
    return {m: known[m] for m in methods}


def inference_overrides(args) -> dict:
    """Config overrides of every method's run: the length, seed, weights and progress flags, then
    ``--cfg-options`` (which win)."""
    overrides = {"num_frames": f"{args.seconds:g}s"}
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.ckpt_path:
        overrides["model.from_pretrained"] = args.ckpt_path
    if args.no_progress:
        overrides["progress"] = False
    return {**overrides, **parse_options(args.cfg_options)}


def generate(method: str, config: Path, prompt_file: Path, out: Path, args) -> MethodRun:
    """Run one method's inference (``LongVideoPipeline``) into ``out/videos/<method>`` (emptied first); time it.
    ``method`` is the run name (``pa``, ``pa-ext``)."""
    video_dir = out / "videos" / method
    if video_dir.exists():
        shutil.rmtree(video_dir)  # stale videos of an earlier run would be evaluated too
    print(f"== {method}: {config}", flush=True)
    setup_logging(0, video_dir)  # the run's log.txt next to its videos
    start = time.perf_counter()
    pipe = LongVideoPipeline.from_config(config, **inference_overrides(args))
    paths = pipe(read_prompt_entries(prompt_file), save_dir=video_dir)
    wall = time.perf_counter() - start
    sidecars = [json.loads(Path(p).with_suffix(".json").read_text()) for p in paths]
    return MethodRun(method, str(config), str(video_dir), wall, [str(p) for p in paths],
                     [s.get("model_calls") for s in sidecars], sidecars[0].get("model") if sidecars else None)


def write_references(prompts: list[str], ref_dir: Path) -> list[Path]:
    """``ref_dir/ref_<i>.mp4``: the first REFERENCE_FRAMES frames of a ground-truth video of prompt i."""
    from tools.synthetic import World, WorldSpec, write_mp4

    ref_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, prompt in enumerate(prompts):
        if not _is_caption(prompt):
            raise ValueError(f"--modes extend needs synthetic-world captions to render the clip to extend, got "
                             f"{prompt!r}; use the held-out captions (no --prompt-path) or --modes text")
        world = World(WorldSpec(parse_caption(prompt), seed=REFERENCE_SEED + i))
        paths.append(ref_dir / f"ref_{i}.mp4")
        write_mp4(paths[-1], world.frames(REFERENCE_FRAMES), fps=world.spec.fps)
    return paths


def prompt_files(prompts: list[str], modes: list[str], out: Path) -> dict[str, Path]:
    """{mode: prompt file}: the prompts as they are (text) or as ``prompt||ref_<i>.mp4`` (extend)."""
    files = {}
    for mode in modes:
        lines = prompts
        if mode == "extend":
            refs = write_references(prompts, out / "references")
            lines = [f"{p}||{r.resolve()}" for p, r in zip(prompts, refs)]
        files[mode] = out / f"prompts_{mode}.txt"
        files[mode].write_text("\n".join(lines) + "\n")
    return files


def write_contact_sheet(runs: list[MethodRun], path: Path, every_s: float) -> Path | None:
    """A row of the first video of every run; None when the videos were not kept."""
    videos = {r.method: r.videos[0] for r in runs if r.videos and Path(r.videos[0]).is_file()}
    return contact_sheet(videos, path, every_s) if videos else None


def write_ground_truth(runs: list[MethodRun], gt_dir: Path) -> int:
    """``gt_dir/<video stem>.json`` = {"caption": text} for every video whose prompt is one synthetic caption.

    tools.eval would also read the inference sidecars next to the videos, but it raises on a prompt that is not
    one synthetic-world caption; here such videos are simply scored without ground truth, so a free-text
    ``--prompt-path`` still compares. Returns how many captions were written (0: no ground-truth errors).
    """
    gt_dir.mkdir(parents=True, exist_ok=True)
    written = set()
    for run in runs:
        for video in run.videos:
            segments = json.loads(Path(video).with_suffix(".json").read_text())["prompt"]
            if len(segments) != 1 or not _is_caption(segments[0][0]):
                continue
            (gt_dir / f"{Path(video).stem}.json").write_text(json.dumps({"caption": segments[0][0]}))
            written.add(Path(video).stem)
    return len(written)


def _is_caption(text: str) -> bool:
    try:
        parse_caption(text)
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------------------------------- statistics

def first_last(videos: list[dict], name: str, window_s: float) -> tuple[float, float]:
    """Mean of ``name`` over the clips centred in the first and in the last ``window_s`` seconds of each
    video (at most half the video each), averaged over videos."""
    firsts, lasts = [], []
    for v in videos:
        duration = v["num_frames"] / v["fps"]
        w = min(window_s, duration / 2)
        centres = np.array([(c["t_start"] + c["t_end"]) / 2 for c in v["clips"]])
        values = np.array([c.get(name, np.nan) for c in v["clips"]], dtype=np.float64)
        firsts.append(_nanmean(values[centres <= w + 1e-9]))
        lasts.append(_nanmean(values[centres >= duration - w - 1e-9]))
    return _nanmean(np.array(firsts)), _nanmean(np.array(lasts))


def _nanmean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


def method_stats(results: dict, window_s: float) -> dict:
    """{method: {metric: mean, "first:<m>": .., "last:<m>": .., "delta:<m>": ..}} from tools.eval results."""
    names = eval_report.metric_names(results)
    stats = {}
    for method, videos in results.items():
        row = eval_report.method_summary(videos, names)
        for name in (n for n in DRIFT_METRICS if n in names):
            first, last = first_last(videos, name, window_s)
            row.update({f"first:{name}": first, f"last:{name}": last, f"delta:{name}": last - first})
        stats[method] = row
    return stats


# -------------------------------------------------------------------------------------------- report

def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]


def machine_info() -> str:
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only"
    return (f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs "
            f"(torch threads {torch.get_num_threads()}), torch {torch.__version__}, {device}")


def load_average() -> str:
    """1-min load average before the runs: wall times compare fairly only on an otherwise idle machine."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"


def setup_section(ctx: dict) -> list[str]:
    runs = ctx["runs"]
    lines = ["# Long-video method comparison", "", "Produced by:", "", "```", ctx["command"], "```", "",
             f"- date: {ctx['date']}", f"- machine: {machine_info()}",
             f"- load average (1 min) before the runs: {ctx['load']} (other work on the machine slows wall times)",
             f"- length: {ctx['seconds']:g} s per video, {len(ctx['prompts'])} prompt(s), same seeds for all methods",
             f"- weights: {', '.join(sorted({_weights(r.checkpoint) for r in runs}))}", "- configs:"]
    lines += [f"  - `{r.method}` ({METHOD_TITLES.get(r.method, 'custom')}): `{_rel(r.config)}`" for r in runs]
    lines += ["", "Prompts:", ""] + [f"{i}. {p}" for i, p in enumerate(ctx["prompts"])]
    return lines + [""]


def _weights(checkpoint) -> str:
    """The weights as the report shows them: relative to the repository when inside it (portable reports)."""
    if checkpoint in (None, "None", ""):
        return "none (random init)"
    path = Path(os.path.normpath(os.path.abspath(str(checkpoint))))
    return f"`{path.relative_to(REPO)}`" if path.is_relative_to(REPO) else f"`{checkpoint}`"


def cost_section(runs: list[MethodRun]) -> list[str]:
    rows = [[r.method, len(r.videos), round(r.wall_s, 1), round(r.wall_s / max(1, len(r.videos)), 1),
             "/".join(sorted({str(c) for c in r.model_calls}))] for r in runs]
    return ["## Cost", "", *_table(["method", "videos", "wall time (s)", "s / video", "model calls / video"],
                                   rows), "",
            "Wall time covers each method's whole inference call (network build, sampling, VAE decoding, mp4 "
            "writing); model calls count CFG pairs as one call.", ""]


def metrics_section(stats: dict, window_s: float, clip_s: float) -> list[str]:
    some = next(iter(stats.values()))
    cols = [n for n in HEADLINE if n in some]
    drift = [n for n in DRIFT_METRICS if f"delta:{n}" in some]
    header = ["method", *cols, *[f"Δ {n}" for n in drift]]
    rows = [[m, *[s[n] for n in cols], *[s[f"delta:{n}"] for n in drift]] for m, s in stats.items()]
    lines = ["## Metrics", "", f"Means over all {_fmt(clip_s)}-s clips of all videos (num_scenes: mean per "
             f"video). Δ = mean over the clips in the last "
             f"{_fmt(window_s)} s minus the first {_fmt(window_s)} s (at most half a video each).", "",
             *_table(header, rows), ""]
    detail = [[m, *[v for n in drift for v in (s[f"first:{n}"], s[f"last:{n}"])]] for m, s in stats.items()]
    lines += ["First vs last seconds:", "",
              *_table(["method", *[f"{n} {w}" for n in drift for w in ("first", "last")]], detail), ""]
    return lines


def how_to_read_section(stats: dict) -> list[str]:
    some = next(iter(stats.values()))
    lines = ["## How to read", ""]
    lines += [f"- **{n}**: {HOW_TO_READ[n]}" for n in HEADLINE if n in some]
    lines += ["- **Δ columns**: last minus first seconds; near 0 = no change over time, the sign reads as the "
              "metric's (e.g. a negative Δ sharpness = blurring, a positive Δ palette_error = drifting colours)",
              "- shift_dx, shift_dy and frame_diff are in `metrics.json`, `clips.csv` and `videos.csv`.", ""]
    return lines


def extremes_sentence(stats: dict, runs: list[MethodRun]) -> str:
    """A neutral, automatic sentence: which method is best on each directed headline metric."""
    parts = []
    for name, higher in HIGHER_IS_BETTER.items():
        values = {m: s.get(name, float("nan")) for m, s in stats.items()}
        values = {m: v for m, v in values.items() if not np.isnan(v)}
        if len(values) > 1:
            best = (max if higher else min)(values, key=values.get)
            parts.append(f"{'highest' if higher else 'lowest'} {name}: {best} ({_fmt(values[best])})")
    fastest = min(runs, key=lambda r: r.wall_s)
    parts.append(f"shortest wall time: {fastest.method} ({_fmt(round(fastest.wall_s, 1))} s)")
    return "Automatic summary (no interpretation): " + "; ".join(parts) + "."


def plots_section(out: Path, names: list[str]) -> list[str]:
    lines = ["## Metrics over time", "", "One line per method (mean over videos; band = min..max).", ""]
    if (out / "contact_sheet.png").is_file():
        lines = ["## Contact sheet", "", "The first video of every run, a frame every few seconds (rows: runs; "
                 "`-ext` = extension of a ground-truth clip).", "", "![contact sheet](contact_sheet.png)", "",
                 *lines]
    return lines + [f"![{n}](plots/{n}.png)" for n in names if (out / "plots" / f"{n}.png").is_file()] + [""]


def write_report(out: Path, ctx: dict, results: dict, window_s: float) -> Path:
    stats = method_stats(results, window_s)
    lines = [*setup_section(ctx), *cost_section(ctx["runs"]),
             *metrics_section(stats, window_s, ctx["clip_seconds"]),
             extremes_sentence(stats, ctx["runs"]), "", *how_to_read_section(stats),
             *plots_section(out, eval_report.metric_names(results)),
             "Raw numbers: `metrics.json`, `clips.csv`, `videos.csv`, `runs.json`.", ""]
    path = out / "README.md"
    path.write_text("\n".join(lines))
    return path


def _rel(path) -> str:
    p = Path(path).resolve()
    return str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(path)


# ---------------------------------------------------------------------------------------------- main

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python tools/compare_methods.py", description=__doc__.splitlines()[0])
    add = p.add_argument
    add("--out", required=True, help="output folder (report, metrics, plots, videos/)")
    add("--methods", nargs="+", default=list(METHODS), help=f"methods to compare (default: {' '.join(METHODS)})")
    add("--modes", nargs="+", default=list(MODES), choices=list(MODES),
        help="text (text-to-video) and/or extend (continue a 17-frame ground-truth clip); default both")
    add("--num-prompts", type=int, help="held-out captions to use (default 4; with --prompt-path: all lines)")
    add("--prompt-path", help="prompt file (one per line) instead of the held-out captions")
    add("--prompt-seed", type=int, default=0, help="seed of the held-out caption order")
    add("--seconds", type=float, default=60.0, help="video length in seconds (default 60)")
    add("--seed", type=int, help="base seed of every method's videos (default: the configs' seed)")
    add("--ckpt-path", help="diffusion model weights for every method (default: the configs')")
    add("--config-dir", default=str(DEFAULT_CONFIG_DIR), help="folder of the default method configs")
    add("--config", action="append", default=[], metavar="NAME=PATH", help="config of method NAME (repeat)")
    add("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="passed to every inference run")
    add("--clip-seconds", type=float, default=EvalOptions().clip_seconds, help="evaluation clip length")
    add("--drift-seconds", type=float, default=10.0, help="window of the first-vs-last columns (default 10)")
    add("--sheet-every", type=float, default=5.0, help="seconds between contact-sheet frames (default 5)")
    add("--no-scenes", action="store_true", help="skip scene detection")
    add("--no-keep-videos", action="store_true", help="delete the mp4s after evaluation (keeps sidecars)")
    add("--no-progress", action="store_true", help="no progress bars")
    return p


def prompts_for(args) -> list[str]:
    if args.prompt_path:
        return read_prompt_file(args.prompt_path, args.num_prompts)
    return select_prompts(4 if args.num_prompts is None else args.num_prompts, args.prompt_seed)


def main(argv=None) -> Path:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    # 1. check methods, configs and prompts before any work
    configs = resolve_configs(args.methods, args.config_dir, args.config)
    prompts = prompts_for(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    load = load_average()
    (out / "prompts.txt").write_text("\n".join(prompts) + "\n")
    files = prompt_files(prompts, args.modes, out)
    # 2. generate with every method and mode, same prompts / seeds / weights
    runs = [generate(m + MODES[mode], cfg, files[mode], out, args) for mode in args.modes
            for m, cfg in configs.items()]
    (out / "runs.json").write_text(json.dumps([dataclasses.asdict(r) for r in runs], indent=1))
    # 3. evaluate (ground truth from the prompts when they are synthetic-world captions)
    gt_dir = out / "ground_truth"
    write_ground_truth(runs, gt_dir)
    options = EvalOptions(clip_seconds=args.clip_seconds, scenes=not args.no_scenes, gt_dir=str(gt_dir))
    results = evaluate_run([r.video_dir for r in runs], [r.method for r in runs], out, options,
                           progress=not args.no_progress)
    # 4. contact sheet and report; optionally drop the mp4s
    write_contact_sheet(runs, out / "contact_sheet.png", args.sheet_every)
    ctx = {"command": "python tools/compare_methods.py " + shlex.join(argv), "runs": runs, "prompts": prompts,
           "load": load, "seconds": args.seconds, "clip_seconds": args.clip_seconds,
           "date": datetime.datetime.now().isoformat(timespec="seconds")}
    path = write_report(out, ctx, results, args.drift_seconds)
    if args.no_keep_videos:
        for run in runs:
            for video in run.videos:
                Path(video).unlink(missing_ok=True)
    print(f"wrote {path}")
    return path


def cli() -> int:
    """``main`` with user errors (unknown method, missing config or key, bad prompts) as one-line messages."""
    from opensora.utils.cli import run_cli

    return run_cli(main)


if __name__ == "__main__":
    sys.exit(cli())
