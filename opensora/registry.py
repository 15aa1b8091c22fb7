"""Component registries (mmengine) and the one helper that builds from them.

A config names a component by ``type=...``; swapping a component is a change of that string.
"""
from copy import deepcopy

from mmengine.registry import Registry

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


def build_module(cfg, registry: Registry, **default_args):
    """Build ``cfg`` (a dict with ``type``, or an already-built object) from ``registry``.

    ``None`` passes through, so optional components can be left out of a config.
    An unknown ``type`` raises ``KeyError`` naming the registry and the registered names.
    """
    if cfg is None or not isinstance(cfg, dict):
        return cfg
    cfg = deepcopy(dict(cfg))
    if "type" not in cfg:
        raise ValueError(f"cannot build a {registry.name} from {cfg!r}: it has no 'type' key; "
                         f"add type=<one of {sorted(registry.module_dict)}>")
    registry.import_from_location()
    name = cfg["type"]
    if isinstance(name, str) and registry.get(name) is None:
        raise KeyError(f"{name!r} is not a registered {registry.name}; "
                       f"registered: {sorted(registry.module_dict)}")
    for key, value in default_args.items():
        cfg.setdefault(key, value)
    return registry.build(cfg)
