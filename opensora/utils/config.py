"""Configs: mmengine python files with ``_base_`` inheritance, overridden from the command line.

Two override routes, both strict (a key that the config does not define is an error, never ignored):

- Open-Sora's familiar flags (``--num-sampling-steps 10``), mapped to config keys by each script's
  ``flag_to_key`` table;
- ``--cfg-options key=value [key=value ...]`` for any (dotted) config key.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import inspect
import logging
from pathlib import Path
from typing import Any, Mapping

from mmengine.config import Config, ConfigDict, DictAction

logger = logging.getLogger(__name__)

# config sections built from a registry by ``type`` (the registry is looked up lazily: opensora.registry)
TYPED_SECTIONS = {"model": "MODELS", "vae": "MODELS", "text_encoder": "MODELS", "scheduler": "SCHEDULERS",
                  "schedule": "PLANS", "objective": "OBJECTIVES", "dataset": "DATASETS"}


class ConfigKeyError(KeyError):
    def __str__(self):  # KeyError quotes its message; keep it readable
        return str(self.args[0])


class ConfigFileError(ValueError):
    """A config file that cannot be read (syntax error, undefined name, unsupported format)."""


def _close(key: str, known) -> str:
    close = difflib.get_close_matches(key, list(known), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def check_top_level_keys(cfg: Config, known, what: str) -> None:
    """Every top-level key of ``cfg`` is one of ``known`` (keys starting with ``_`` are private helpers): a
    misspelt key in a user's own config file (``num_frame = 17`` under ``_base_``) is an error, not ignored."""
    unknown = sorted(k for k in cfg.keys() if not k.startswith("_") and k not in known)
    if unknown:
        hints = "; ".join(f"{k!r}{_close(k, known)}" for k in unknown)
        raise ConfigKeyError(f"unknown key(s) in the {what} {getattr(cfg, 'filename', '') or ''}: {hints}; "
                             f"remove or rename them (known keys: {', '.join(sorted(known))})")


def _lookup_parent(cfg, dotted: str):
    """Return (parent mapping, last key) for ``dotted`` or raise :class:`ConfigKeyError`."""
    node, parts = cfg, dotted.split(".")
    for depth, part in enumerate(parts):
        if not isinstance(node, Mapping) or part not in node:
            where = ".".join(parts[:depth]) or "<top level>"
            known = sorted(node.keys()) if isinstance(node, Mapping) else []
            close = difflib.get_close_matches(part, known, n=3)
            hint = f" Did you mean {', '.join('.'.join(parts[:depth] + [c]) for c in close)}?" if close else ""
            raise ConfigKeyError(f"unknown config key {dotted!r}: {where} has no {part!r}.{hint} "
                                 f"Keys there: {', '.join(known) if known else '(not a dict)'}")
        if depth == len(parts) - 1:
            return node, part
        node = node[part]
    raise ConfigKeyError(f"empty config key {dotted!r}")


def check_keys(cfg, overrides: Mapping[str, Any]) -> None:
    plain = cfg.to_dict() if isinstance(cfg, Config) else cfg
    for key in overrides:
        _lookup_parent(plain, key)


def accepted_options(section: str, kind) -> set | None:
    """The options a ``type=kind`` component of config section ``section`` takes (its signature), or None if
    unknown (not a typed section, unregistered type, or a ``**kwargs`` signature)."""
    if section not in TYPED_SECTIONS or not isinstance(kind, str):
        return None
    import opensora.registry as registries

    registry = getattr(registries, TYPED_SECTIONS[section])
    registry.import_from_location()
    target = registry.get(kind)
    if target is None:
        return None
    params = inspect.signature(target).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params} | {"type"}


def _rebase_switched_types(cfg: Config, group: Mapping[str, Any]) -> None:
    """``section.type`` switched on the command line (``objective.type=fopp`` over a ``pa`` config): drop the
    section's options that only the old type takes (options the new type shares, e.g. num_noisy_chunks, and
    those given in the same command stay), so switching components from the command line works."""
    for key, kind in group.items():
        section = key[: -len(".type")] if key.endswith(".type") else None
        if section is None or "." in section or not isinstance(cfg.get(section), Mapping):
            continue
        old = cfg[section].get("type")
        accepted = accepted_options(section, kind)
        if old == kind or accepted is None:
            continue
        given = {k.split(".", 1)[1] for k in group if k.startswith(section + ".")}
        dropped = sorted(k for k in cfg[section] if k not in accepted and k not in given)
        for k in dropped:
            cfg[section].pop(k)
        if dropped:
            logger.warning("%s.type %r -> %r: dropped the options only %r takes: %s", section, old, kind, old,
                           ", ".join(dropped))


def apply_overrides(cfg: Config, overrides: Mapping[str, Any] | None) -> Config:
    """Set dotted keys (``{"scheduler.num_sampling_steps": 12}``) in ``cfg``; a key it does not define raises
    :class:`ConfigKeyError` (naming the closest keys) before anything is changed. Switching a component's
    ``type`` drops the options of the old type that the new one does not take."""
    group = dict(overrides or {})
    check_keys(cfg, group)
    if group:
        _rebase_switched_types(cfg, group)
        cfg.merge_from_dict(group)
    return cfg


def _syntax_error_file(path: Path) -> tuple[Path, SyntaxError] | None:
    """The file of a config chain (``path`` and its ``_base_`` files) that does not parse, and its error."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        return path, exc
    except (OSError, UnicodeDecodeError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_base_" for t in node.targets):
            try:
                bases = ast.literal_eval(node.value)
            except ValueError:
                return None
            for base in [bases] if isinstance(bases, str) else bases:
                found = _syntax_error_file((path.parent / base).resolve())
                if found:
                    return found
    return None


def read_config_file(path) -> Config:
    """``Config.fromfile`` with errors that name the file, the line and the fix."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config {path} does not exist; pass a config file such as "
                                f"configs/pavdm/infer_60s.py")
    try:
        return Config.fromfile(str(path))
    except SyntaxError as exc:
        where, err = _syntax_error_file(path) or (path, exc)
        raise ConfigFileError(f"config {where}, line {err.lineno}: syntax error: {err.msg}; fix the file "
                              f"(it is Python)") from None
    except (NameError, TypeError, AttributeError, ImportError) as exc:
        raise ConfigFileError(f"config {path} (or a _base_ file) cannot be evaluated: {type(exc).__name__}: "
                              f"{exc}; fix the file") from None
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise FileNotFoundError(f"config {path}: {exc.strerror}: {exc.filename} (check its _base_ "
                                    f"paths)") from None
        raise ConfigFileError(f"config {path}: {exc}; give a .py config file") from None


def load_config(path, cfg_options: Mapping[str, Any] | None = None,
                overrides: Mapping[str, Any] | None = None) -> Config:
    """Read ``path`` and apply ``overrides`` (from flags) then ``cfg_options``; unknown keys raise."""
    cfg = read_config_file(path)
    for group in overrides, cfg_options:
        apply_overrides(cfg, group)
    return cfg


def parse_options(items) -> dict:
    """``["key=value", ...]`` strings -> {key: value}, values parsed as ``--cfg-options`` parses them
    (``None``, numbers, booleans, tuples and lists: mmengine's ``DictAction``)."""
    options = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key:
            raise ValueError(f"config option {item!r} is not KEY=VALUE; write e.g. scheduler.num_sampling_steps=12")
        options[key] = DictAction._parse_iterable(value)
    return options


def add_config_args(parser: argparse.ArgumentParser, example: str = "configs/pavdm/infer_60s.py",
                    option_example: str = "scheduler.num_sampling_steps=10 model.enable_flash_attn=False"
                    ) -> argparse.ArgumentParser:
    """The config file argument and ``--cfg-options``; the examples are for the calling command."""
    parser.add_argument("config", help=f"mmengine python config, e.g. {example}")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={}, metavar="KEY=VALUE",
                        help=f"override any config key, e.g. --cfg-options {option_example} (unknown keys are "
                             f"errors)")
    return parser


def parse_config(parser: argparse.ArgumentParser, argv=None,
                 flag_to_key: Mapping[str, str] | None = None) -> tuple[Config, argparse.Namespace]:
    """Parse ``argv``; flags in ``flag_to_key`` (argparse dest -> config key) override when given."""
    args = parser.parse_args(argv)
    overrides = {key: getattr(args, dest) for dest, key in (flag_to_key or {}).items()
                 if getattr(args, dest, None) is not None}
    return load_config(args.config, args.cfg_options, overrides), args


def to_dict(cfg) -> dict:
    """A plain-dict copy (ConfigDict -> dict, recursively), for building components."""
    if isinstance(cfg, (ConfigDict, dict)):
        return {k: to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(to_dict(v) for v in cfg)
    return cfg
