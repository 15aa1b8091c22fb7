"""Component registries (mmengine) and the one helper that builds from them.

A config names a component by ``type=...``; swapping a component is a change of that string.
"""
import inspect
from copy import deepcopy

from mmengine.registry import Registry

from opensora.utils.config import ConfigKeyError

# Networks: STDiT3 variants, VAEs, text encoders.
MODELS = Registry("model", locations=["opensora.models"])
# Noise schedulers (stateless math over per-frame timesteps), e.g. "rflow".
SCHEDULERS = Registry("scheduler", locations=["opensora.schedulers"])
# Datasets returning dicts with documented keys and shapes.
DATASETS = Registry("dataset", locations=["opensora.datasets"])
# Training objectives: how each batch's per-frame noise levels and loss mask are drawn ("opensora", "pa", "fopp").
OBJECTIVES = Registry("objective", locations=["opensora.training.objectives"])
# Inference plan builders: a config's ``schedule`` dict -> ChunkSchedule ("pa", "ad", "rn", "rw").
PLANS = Registry("plan", locations=["opensora.sampling.schedules"])
# Training losses on the velocity error, per sample ("latent": Open-Sora's MSE; "pixel": through a linear VAE).
LOSSES = Registry("loss", locations=["opensora.training.losses"])


class UnknownOptionError(ConfigKeyError, TypeError):
    """A config option that the component's signature does not take (a KeyError for the command-line wrapper,
    a TypeError like the call it prevents)."""



def _check_options(target, cfg: dict, config_key: str, skip) -> None:
    """Options ``cfg`` gives ``target`` exist in its signature, and numbers / booleans are not strings."""
    params = inspect.signature(target).parameters
    name = cfg["type"]
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        known = [n for n in params if n not in skip and params[n].kind is not inspect.Parameter.VAR_POSITIONAL]
        unknown = sorted(set(cfg) - set(params) - {"type"})
        if unknown:
            raise UnknownOptionError(f"{config_key}.type={name!r} has no option(s) {unknown}; its options are "
                                     f"{known}")
    for key, value in cfg.items():
        default = params[key].default if key in params else inspect.Parameter.empty
        if key in skip or default is inspect.Parameter.empty or default is None or value is None:
            continue
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ValueError(f"{config_key}.{key}={value!r} must be True or False (default {default})")
        if isinstance(default, (int, float)) and not isinstance(default, bool) and (
                isinstance(value, (str, bool)) or not isinstance(value, (int, float))):
            kind = "an integer" if isinstance(default, int) else "a number"
            raise ValueError(f"{config_key}.{key}={value!r} must be {kind} (default {default}), e.g. "
                             f"{config_key}.{key}={default}")


def build_module(cfg, registry: Registry, *, config_key: str | None = None, **default_args):
    """Build ``cfg`` (a dict with ``type``, or an already-built object) from ``registry``.

    ``None`` passes through, so optional components can be left out of a config.
    An unknown ``type`` raises ``KeyError`` naming the registry and the registered names; an option the
    component does not take, or a string where it takes a number, raises naming ``config_key.option``
    (``config_key`` defaults to the registry's name).
    """
    if cfg is None or not isinstance(cfg, dict):
        return cfg
    cfg = deepcopy(dict(cfg))
    config_key = config_key or registry.name
    if "type" not in cfg:
        raise ValueError(f"cannot build a {registry.name} from {cfg!r}: it has no 'type' key; "
                         f"add type=<one of {sorted(registry.module_dict)}>")
    registry.import_from_location()
    name = cfg["type"]
    if isinstance(name, str) and registry.get(name) is None:
        raise UnknownOptionError(f"{config_key}.type={name!r} is not a registered {registry.name}; "
                                 f"registered: {sorted(registry.module_dict)}")
    target = registry.get(name) if isinstance(name, str) else name
    if callable(target):
        _check_options(target, cfg, config_key, skip=set(default_args))
    for key, value in default_args.items():
        cfg.setdefault(key, value)
    return registry.build(cfg)
