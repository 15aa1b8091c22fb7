"""Checkpoint files: find them, read them, check them strictly, write them atomically.

Sources accepted everywhere a checkpoint is named (``--ckpt-path``, ``from_pretrained=``):

=====================  ==============================================================
a ``.safetensors`` file  loaded directly (the default format)
a ``.pt``/``.pth``/``.bin`` file  ``torch.load(weights_only=True)``; an ``ema``/``state_dict``/``model``
                       wrapper is unwrapped (Open-Sora training files); a safetensors file with such
                       a name is recognised by its content
a local directory      a Hugging Face snapshot (``config.json`` + ``model.safetensors``)
a Hub id               ``owner/name``, resolved with ``huggingface_hub`` (cache or download)
=====================  ==============================================================
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch

PICKLE_SUFFIXES = (".pt", ".pth", ".bin")
DEFAULT_FILENAMES = ("model.safetensors", "diffusion_pytorch_model.safetensors", "pytorch_model.bin")
_WRAPPER_KEYS = ("ema", "state_dict", "model", "module")


class WeightsNotFoundError(FileNotFoundError):
    """The named weights are neither a local file/directory nor reachable on the Hub."""


class CorruptCheckpointError(ValueError):
    """A weights file that exists but cannot be read (empty, truncated, another format)."""


class CheckpointMismatchError(ValueError):
    """A state dict's keys or shapes do not match the model."""


def _not_found(source, tried: list[str], reason: str = "") -> WeightsNotFoundError:
    msg = (f"could not find weights {str(source)!r} (tried: {'; '.join(tried)}){': ' + reason if reason else ''}.\n"
           "  To use a local copy: download it on a machine with network access "
           "(`huggingface-cli download <repo-id> --local-dir DIR`), copy DIR here and pass the directory "
           "or its .safetensors file as the path (e.g. --ckpt-path DIR/model.safetensors); "
           "or set HF_HOME to a cache that already holds it.")
    return WeightsNotFoundError(msg)


def _looks_like_hub_id(source: str) -> bool:
    parts = source.split("/")
    return len(parts) == 2 and all(parts) and not source.startswith((".", "~")) and "\\" not in source


def _from_dir(directory: Path, filenames, subfolder) -> Path:
    base = directory / subfolder if subfolder else directory
    for name in filenames:
        if (base / name).is_file():
            return base / name
    found = sorted(p.name for p in base.glob("*.safetensors"))
    if len(found) == 1:
        return base / found[0]
    raise _not_found(directory, [str(base / n) for n in filenames],
                     f"the directory holds {found or 'no .safetensors files'}")


def _from_hub(repo_id: str, filenames, subfolder) -> Path:
    from huggingface_hub import hf_hub_download

    tried, last = [f"local path {Path(repo_id).resolve()} (does not exist)"], None
    for name in filenames:
        tried.append(f"hub {repo_id}/{subfolder + '/' if subfolder else ''}{name}")
        try:
            return Path(hf_hub_download(repo_id, name, subfolder=subfolder))
        except Exception as exc:  # offline, missing file, missing repo, auth: all mean "not here"
            last = exc
    raise _not_found(repo_id, tried, f"{type(last).__name__}: {str(last).splitlines()[0] if str(last) else ''}")


def resolve_weights(source, *, filenames=DEFAULT_FILENAMES, subfolder: str | None = None) -> Path:
    """Return the path of a weights file for ``source`` (file, snapshot directory or Hub id).

    Raises :class:`WeightsNotFoundError` naming what was tried and how to point at a local copy.
    """
    if source is None or str(source) == "":
        raise WeightsNotFoundError("no checkpoint given (empty path); pass a Hub id, a directory or a file")
    path = Path(os.path.expanduser(str(source)))
    if path.is_file():
        return path
    if path.is_dir():
        return _from_dir(path, filenames, subfolder)
    if path.suffix in (".safetensors",) + PICKLE_SUFFIXES or not _looks_like_hub_id(str(source)):
        raise _not_found(source, [f"local path {path.resolve()}"], "no such file or directory")
    return _from_hub(str(source), filenames, subfolder)


def read_config_json(source) -> dict:
    """``config.json`` of a local snapshot directory (or the directory of a weights file), or {}."""
    path = Path(os.path.expanduser(str(source)))
    for cand in (path / "config.json", path.parent / "config.json"):
        if cand.is_file():
            return json.loads(cand.read_text())
    return {}


def _unwrap(obj) -> dict:
    while isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        key = next((k for k in _WRAPPER_KEYS if k in obj), None)
        if key is None:
            break
        obj = obj[key]
    if not isinstance(obj, dict):
        raise CheckpointMismatchError(f"checkpoint holds a {type(obj).__name__}, not a state dict")
    return obj


def load_state_dict(path, *, map_location="cpu") -> dict[str, torch.Tensor]:
    """Read a state dict from a ``.safetensors`` or a pickle (``.pt``/``.pth``/``.bin``) file."""
    path = Path(path)
    if not path.is_file():
        raise _not_found(path, [str(path)], "no such file")
    if path.suffix not in (".safetensors",) + PICKLE_SUFFIXES:
        raise ValueError(f"unsupported checkpoint format {path.suffix!r} for {path}; "
                         f"use .safetensors or one of {PICKLE_SUFFIXES}")
    safetensors = _is_safetensors(path)
    try:
        if safetensors:
            from safetensors.torch import load_file

            return load_file(str(path), device=str(map_location))
        sd = _unwrap(torch.load(str(path), map_location=map_location, weights_only=True))
    except CheckpointMismatchError:
        raise
    except Exception as exc:  # safetensors / pickle / zip errors of many types: all mean "not a readable file"
        raise CorruptCheckpointError(_unreadable(path, exc, safetensors)) from exc
    return {k.removeprefix("module."): v for k, v in sd.items()}


def _is_safetensors(path: Path) -> bool:
    """By content, not name (a safetensors file renamed .pt still loads): it starts with an 8-byte
    little-endian header length and '{'; a torch file is a zip ('PK') or a legacy pickle."""
    with open(path, "rb") as f:
        head = f.read(9)
    if path.suffix == ".safetensors":
        return True
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < path.stat().st_size


def _unreadable(path: Path, exc: Exception, safetensors: bool) -> str:
    size = path.stat().st_size
    kind = "safetensors" if safetensors else "torch pickle"
    return (f"cannot read weights {path} ({size} bytes) as {kind}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:160] if str(exc) else ''}; the file is empty, truncated or damaged: "
            f"download or export it again")


def _short(keys, limit=12) -> str:
    keys = sorted(keys)
    more = f" ... and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def check_state_dict(model_sd: dict, state_dict: dict, *, optional_missing=()) -> None:
    """Raise :class:`CheckpointMismatchError` unless keys and shapes match exactly.

    ``optional_missing`` names keys that may be absent from ``state_dict`` (e.g. ``rope.freqs``).
    """
    missing = set(model_sd) - set(state_dict) - set(optional_missing)
    unexpected = set(state_dict) - set(model_sd)
    shapes = [f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(model_sd[k].shape)}"
              for k in sorted(set(model_sd) & set(state_dict)) if state_dict[k].shape != model_sd[k].shape]
    if not (missing or unexpected or shapes):
        return
    lines = ["the checkpoint does not match the model:"]
    if missing:
        lines.append(f"  {len(missing)} missing keys: {_short(missing)}")
    if unexpected:
        lines.append(f"  {len(unexpected)} unexpected keys: {_short(unexpected)}")
    if shapes:
        lines.append(f"  {len(shapes)} shape mismatches: {'; '.join(shapes[:8])}")
    lines.append("  Check that the config (model type, hidden size, depth, channels) matches the checkpoint.")
    raise CheckpointMismatchError("\n".join(lines))


def load_weights_strict(model: torch.nn.Module, state_dict: dict, *, optional_missing=()) -> None:
    """Load ``state_dict`` into ``model`` after a strict key/shape check (see :func:`check_state_dict`)."""
    check_state_dict(model.state_dict(), state_dict, optional_missing=optional_missing)
    model.load_state_dict(state_dict, strict=False)


def atomic_write(path, write_fn) -> Path:
    """Call ``write_fn(tmp_path)`` then rename onto ``path``, so readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write_fn(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def save_safetensors(state_dict_or_model, path, metadata: dict | None = None) -> Path:
    """Write a state dict (or a module's) to ``path`` as safetensors, atomically."""
    from safetensors.torch import save_file

    sd = state_dict_or_model
    if isinstance(sd, torch.nn.Module):
        sd = sd.state_dict()
    sd = {k: v.detach().contiguous().cpu() for k, v in sd.items()}
    meta = {k: str(v) for k, v in (metadata or {}).items()}
    return atomic_write(path, lambda tmp: save_file(sd, tmp, metadata=meta))
