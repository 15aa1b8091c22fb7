"""Configs: mmengine python files with ``_base_`` inheritance, overridden from the command line.

Two override routes, both strict (a key that the config does not define is an error, never ignored):

- Open-Sora's familiar flags (``--num-sampling-steps 10``), mapped to config keys by each script's
  ``flag_to_key`` table;
- ``--cfg-options key=value [key=value ...]`` for any (dotted) config key.
"""
from __future__ import annotations

import argparse
import difflib
from typing import Any, Mapping

from mmengine.config import Config, ConfigDict, DictAction


class ConfigKeyError(KeyError):
    def __str__(self):  # KeyError quotes its message; keep it readable
        return str(self.args[0])


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


def apply_overrides(cfg: Config, overrides: Mapping[str, Any] | None) -> Config:
    """Set dotted keys (``{"scheduler.num_sampling_steps": 12}``) in ``cfg``; a key it does not define raises
    :class:`ConfigKeyError` (naming the closest keys) before anything is changed."""
    group = dict(overrides or {})
    check_keys(cfg, group)
    if group:
        cfg.merge_from_dict(group)
    return cfg


def load_config(path, cfg_options: Mapping[str, Any] | None = None,
                overrides: Mapping[str, Any] | None = None) -> Config:
    """Read ``path`` and apply ``overrides`` (from flags) then ``cfg_options``; unknown keys raise."""
    cfg = Config.fromfile(str(path))
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


def add_config_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("config", help="mmengine python config, e.g. configs/pavdm/infer_60s.py")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={}, metavar="KEY=VALUE",
                        help="override any config key, e.g. --cfg-options num_sampling_steps=10 "
                             "model.enable_flash_attn=False (unknown keys are errors)")
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
