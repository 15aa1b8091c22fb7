"""STDiT3 (Open-Sora v1.2) with per-frame timesteps; loads ``hpcai-tech/OpenSora-STDiT-v3`` unchanged.

Provenance: re-implemented from the math of hpcaitech/Open-Sora v1.2 (commit a29424c,
``opensora/models/stdit/stdit3.py`` and ``opensora/models/layers/blocks.py``, Apache-2.0); no code copied.

Notation
========
B batch; C_in latent channels; T, H, W latent frames, height, width; (p_t, p_h, p_w) the patch;
T' = ceil(T / p_t), H' = ceil(H / p_h), W' = ceil(W / p_w) the token grid; S = H' W' tokens per frame;
C hidden size; L caption tokens; C_text caption channels (4096 for T5-XXL).

Convention (Open-Sora units, required by the checkpoints): t in [0, 1000] with 1000 = noise,
x_t = (1 - t/1000) x0 + (t/1000) eps, and the model predicts v = x0 - eps in its first C_in output channels.

Every timestep is per latent frame, shape (B, T). A clip-level (B,) timestep is broadcast to a constant row
at the boundary, and Open-Sora's ``x_mask`` (False = clean conditioning frame) sets those frames' t to 0;
after that there is a single code path. On the frames the reference keeps (x_mask True) this is
numerically identical to Open-Sora's separate t0 path.

Sequence parallelism (``enable_sequence_parallelism=True`` with groups from
``opensora.acceleration.parallel_states.init_parallel_groups(sp_size)``): the S tokens of every frame are split
over the SP group; see ``opensora/models/layers/sequence_parallel.py``. Weights and state-dict keys are the same.
"""
from __future__ import annotations

import inspect
import json
import math
import os
from pathlib import Path

import torch
import torch.distributed as dist
import torch.utils.checkpoint
from einops import rearrange
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel

from opensora.acceleration.parallel_states import get_sequence_parallel_group
from opensora.models.layers import (
    Attention,
    CaptionEmbedder,
    DropPath,
    Mlp,
    MultiHeadCrossAttention,
    PatchEmbed3D,
    PositionEmbedding2D,
    RotaryEmbedding,
    T2IFinalLayer,
    TimestepEmbedder,
    build_layernorm,
    modulation_params,
    t2i_modulate,
)
from opensora.models.layers.sequence_parallel import TokenShard, head_parallel_cross_attention, spatial_self_attention
from opensora.registry import MODELS
from opensora.utils.ckpt import load_state_dict, load_weights_strict, resolve_weights

ROPE_KEY = "rope.freqs"  # a frozen parameter that some checkpoints omit; recomputed then
XL_2 = dict(depth=28, hidden_size=1152, patch_size=(1, 2, 2), num_heads=16)
B3_2 = dict(depth=28, hidden_size=1872, patch_size=(1, 2, 2), num_heads=26)


class STDiT3Config(PretrainedConfig):
    """Open-Sora v1.2 field names and defaults (XL/2). Kernel/freezing fields never change the math.

    ``grad_ckpt`` (Open-Sora's training-config name) switches gradient checkpointing of every block;
    ``model.gradient_checkpointing`` can also be set after construction.
    ``skip_y_embedder``: ``y`` is already projected, (B, 1, L, C); no caption dropout is applied then.
    ``enable_sequence_parallelism``: split the tokens of every frame over the registered sequence-parallel
    group (``opensora.acceleration.parallel_states``); without a group (or with one rank) it changes nothing.
    """

    model_type = "STDiT3"

    def __init__(
        self,
        input_size=(None, None, None),
        input_sq_size=512,
        in_channels=4,
        patch_size=(1, 2, 2),
        hidden_size=1152,
        depth=28,
        num_heads=16,
        mlp_ratio=4.0,
        class_dropout_prob=0.1,
        pred_sigma=True,
        drop_path=0.0,
        caption_channels=4096,
        model_max_length=300,
        qk_norm=True,
        enable_flash_attn=False,
        enable_layernorm_kernel=False,
        enable_sequence_parallelism=False,
        only_train_temporal=False,
        freeze_y_embedder=False,
        skip_y_embedder=False,
        grad_ckpt=False,
        **kwargs,
    ):
        fields = {k: v for k, v in locals().items() if k in self.field_names()}
        for name, value in fields.items():
            setattr(self, name, value)
        super().__init__(**kwargs)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        params = inspect.signature(STDiT3Config.__init__).parameters
        return tuple(n for n, p in params.items() if n != "self" and p.kind is p.POSITIONAL_OR_KEYWORD)


def check_overrides(overrides: dict) -> None:
    """Raise ValueError for keyword arguments that are not STDiT3Config fields (typos never pass silently)."""
    unknown = sorted(set(overrides) - set(STDiT3Config.field_names()))
    if unknown:
        raise ValueError(f"unknown STDiT3 option(s) {unknown}; valid options: {', '.join(STDiT3Config.field_names())}")


def _check_config(config: STDiT3Config) -> None:
    c, heads = config.hidden_size, config.num_heads
    if c % heads or (c // heads) % 2 or c % 4:
        raise ValueError(f"hidden_size {c} with num_heads {heads}: need hidden_size divisible by num_heads and "
                         "by 4 (2-D position embedding) and an even head dim (RoPE)")
    if len(tuple(config.patch_size)) != 3:
        raise ValueError(f"patch_size must be (t, h, w), got {config.patch_size}")


class STDiT3Block(nn.Module):
    """One spatial (attention within a frame) or temporal (attention across frames, with RoPE) block.

    1. (shift, scale, gate) x 2 = ``scale_shift_table`` + t_mlp, per frame;
    2. x += gate_msa * SelfAttn(LN(x) (1 + scale_msa) + shift_msa);
    3. x += CrossAttn(x, y) (no norm, no modulation);
    4. x += gate_mlp * MLP(LN(x) (1 + scale_mlp) + shift_mlp).
    """

    def __init__(self, hidden_size, num_heads, mlp_ratio=4.0, drop_path=0.0, qk_norm=False, temporal=False,
                 enable_flash_attn=False, enable_layernorm_kernel=False):
        super().__init__()
        self.temporal = temporal
        self.norm1 = build_layernorm(hidden_size, eps=1e-6, affine=False, use_kernel=enable_layernorm_kernel)
        self.attn = Attention(hidden_size, num_heads, qkv_bias=True, qk_norm=qk_norm,
                              enable_flash_attn=enable_flash_attn)
        self.cross_attn = MultiHeadCrossAttention(hidden_size, num_heads)
        self.norm2 = build_layernorm(hidden_size, eps=1e-6, affine=False, use_kernel=enable_layernorm_kernel)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.scale_shift_table = nn.Parameter(torch.randn(6, hidden_size) / hidden_size**0.5)

    def forward(self, x, y, y_mask, t_mlp, rope=None, shard: TokenShard | None = None):
        """x: (B, T, S, C); y: (B, L, C); y_mask: (B, L) bool; t_mlp: (B, T, 6C); rope: (cos, sin) or None.

        shard: under sequence parallelism x holds this rank's S_loc tokens of every frame; the spatial
        attention and cross-attention then communicate within ``shard.group`` (temporal blocks never do).
        """
        rows = t_mlp.unflatten(-1, (6, x.shape[-1]))
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = modulation_params(self.scale_shift_table, rows)
        shard = None if self.temporal else shard
        h = self._self_attention(t2i_modulate(self.norm1(x), shift_msa, scale_msa), rope, shard)
        x = x + self.drop_path(gate_msa * h)
        x = x + self._cross_attention(x, y, y_mask, shard)
        h = self.mlp(t2i_modulate(self.norm2(x), shift_mlp, scale_mlp))
        return x + self.drop_path(gate_mlp * h)

    def _self_attention(self, h, rope, shard):
        b = h.shape[0]
        if self.temporal:
            out = self.attn(rearrange(h, "b t s c -> (b s) t c"), rope)
            return rearrange(out, "(b s) t c -> b t s c", b=b)
        frames = rearrange(h, "b t s c -> (b t) s c")
        out = self.attn(frames) if shard is None else spatial_self_attention(self.attn, frames, shard)
        return rearrange(out, "(b t) s c -> b t s c", b=b)

    def _cross_attention(self, x, y, y_mask, shard):
        if shard is not None:
            return head_parallel_cross_attention(self.cross_attn, x, y, y_mask, shard)
        b, t, s, c = x.shape
        return self.cross_attn(x.reshape(b, t * s, c), y, y_mask).reshape(b, t, s, c)


def _first_value(value, name: str) -> float:
    """The first element of a number or tensor (the reference uses sample 0's pixel size)."""
    if value is None:
        raise ValueError(f"{name} is required: the pixel {name} of the video (a number or a (B,) tensor), "
                         "used for the position-embedding scale")
    return float(torch.as_tensor(value).flatten()[0].item())


def _shape_error(name, tensor, expected: str) -> ValueError:
    return ValueError(f"{name} has shape {tuple(tensor.shape)}; expected {expected}")


class STDiT3(PreTrainedModel):
    """Spatial-temporal DiT of Open-Sora v1.2, per-frame timesteps. Weights/keys as the Hub checkpoint."""

    config_class = STDiT3Config
    supports_gradient_checkpointing = True
    _no_split_modules = ["STDiT3Block"]

    def __init__(self, config: STDiT3Config):
        super().__init__(config)
        _check_config(config)
        c = config.hidden_size
        self.patch_size = tuple(config.patch_size)
        self.out_channels = config.in_channels * 2 if config.pred_sigma else config.in_channels
        self.gradient_checkpointing = bool(config.grad_ckpt)
        self.pos_embed = PositionEmbedding2D(c)
        self.rope = RotaryEmbedding(c // config.num_heads)
        self.x_embedder = PatchEmbed3D(self.patch_size, config.in_channels, c)
        self.t_embedder = TimestepEmbedder(c)
        self.fps_embedder = TimestepEmbedder(c)
        self.t_block = nn.Sequential(nn.SiLU(), nn.Linear(c, 6 * c))
        self.y_embedder = CaptionEmbedder(config.caption_channels, c, config.model_max_length)
        self.spatial_blocks = self._make_blocks(config, temporal=False)
        self.temporal_blocks = self._make_blocks(config, temporal=True)
        self.final_layer = T2IFinalLayer(c, math.prod(self.patch_size), self.out_channels)
        self.post_init()
        self._apply_freezing(config)

    @staticmethod
    def _make_blocks(config, temporal: bool) -> nn.ModuleList:
        rates = torch.linspace(0, config.drop_path, config.depth, device="cpu").tolist()
        return nn.ModuleList(
            STDiT3Block(config.hidden_size, config.num_heads, config.mlp_ratio, rate, config.qk_norm, temporal,
                        config.enable_flash_attn, config.enable_layernorm_kernel)
            for rate in rates
        )

    def _apply_freezing(self, config) -> None:
        if config.only_train_temporal:
            self.requires_grad_(False)
            self.temporal_blocks.requires_grad_(True)
        if config.freeze_y_embedder:
            self.y_embedder.requires_grad_(False)

    # ---------------------------------------------------------------- initialisation
    @torch.no_grad()
    def _init_weights(self, module):
        """Open-Sora's init (xavier Linear, zero-init fps embedder output and temporal out-projections);
        also recomputes the derived tensors (``pos_embed.inv_freq``, ``rope.freqs``), which a loader that
        builds on the meta device would otherwise leave uninitialised."""
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, PositionEmbedding2D):
            module.reset_inv_freq()
        elif isinstance(module, RotaryEmbedding):
            module.reset_freqs()
        elif module is self:  # visited last, after every child
            self._init_special()

    def _init_special(self) -> None:
        nn.init.normal_(self.fps_embedder.mlp[0].weight, std=0.02)
        nn.init.zeros_(self.fps_embedder.mlp[0].bias)
        nn.init.zeros_(self.fps_embedder.mlp[2].weight)
        nn.init.zeros_(self.fps_embedder.mlp[2].bias)
        for block in self.temporal_blocks:
            for linear in (block.attn.proj, block.cross_attn.proj, block.mlp.fc2):
                nn.init.zeros_(linear.weight)

    # ---------------------------------------------------------------- forward
    def forward(self, x, timestep, y, mask=None, x_mask=None, fps=None, height=None, width=None, *,
                caption_drop=None, generator=None):
        """Predict the velocity for a noisy latent video.

        x: (B, C_in, T, H, W) latents; timestep: (B,) or (B, T) in [0, 1000];
        y: (B, 1, L, C_text) caption states; mask: (B_m, L) caption mask (B % B_m == 0; repeated for CFG);
        x_mask: (B, T) bool, False = conditioning frame (its t becomes 0); fps: number or (B,) tensor;
        height, width: pixel size (number or tensor; sample 0 is used);
        caption_drop: (B,) bool, replace these captions by the null caption (any mode);
        generator: torch.Generator for the random caption dropout in training (prob ``class_dropout_prob``).
        Returns (B, out_channels, T, H, W) fp32; channels [:C_in] are v = x0 - eps.
        """
        self._check_inputs(x, timestep, y, mask, x_mask)
        dtype = self.x_embedder.proj.weight.dtype
        t = self._per_frame_timesteps(timestep.to(x.device), x_mask, x.shape[2]).to(dtype)  # (B, T')
        t_emb = self.t_embedder(t) + self.fps_embedder(self._batch_fps(fps, x.shape[0], x.device))[:, None]
        drop = self._caption_drop_ids(x.shape[0], caption_drop, generator, x.device)
        y, y_mask = self.encode_text(y.to(dtype), mask, drop)
        h = self.embed_video(x.to(dtype), height, width)
        shard = self.token_shard(h.shape[2])
        h = self.run_blocks(h if shard is None else shard.split(h), y, y_mask, self.t_block(t_emb), shard)
        out = self.final_layer(h, t_emb)
        out = out if shard is None else shard.gather(out)
        return self.unpatchify(out, x.shape[2:]).float()

    def _sp_group(self):
        """The registered sequence-parallel group when enabled and larger than one rank, else None."""
        group = get_sequence_parallel_group() if self.config.enable_sequence_parallelism else None
        return group if group is not None and dist.get_world_size(group) > 1 else None

    def token_shard(self, num_tokens: int) -> TokenShard | None:
        """The layout of the S tokens per frame over the sequence-parallel group, or None (no SP)."""
        group = self._sp_group()
        if group is None:
            return None
        if self.training and self.config.drop_path > 0:
            raise ValueError(f"drop_path {self.config.drop_path} with sequence parallelism: the ranks of a group "
                             "would drop different samples; train with drop_path=0 (Open-Sora's value)")
        return TokenShard.for_group(group, num_tokens, self.config.num_heads)

    def _check_inputs(self, x, timestep, y, mask, x_mask) -> None:
        cfg = self.config
        if x.ndim != 5 or x.shape[1] != cfg.in_channels:
            raise _shape_error("x", x, f"(B, {cfg.in_channels}, T, H, W)")
        b, _, t = x.shape[:3]
        if timestep.shape not in ((b,), (b, t)):
            raise _shape_error("timestep", timestep, f"(B,) = ({b},) or (B, T) = ({b}, {t})")
        if x_mask is not None and x_mask.shape != (b, t):
            raise _shape_error("x_mask", x_mask, f"(B, T) = ({b}, {t})")
        width = cfg.hidden_size if cfg.skip_y_embedder else cfg.caption_channels
        if y.ndim != 4 or y.shape[0] != b or y.shape[1] != 1 or y.shape[3] != width:
            raise _shape_error("y", y, f"(B, 1, L, {width}) with B = {b}")
        if mask is not None and (mask.ndim != 2 or mask.shape[1] != y.shape[2] or b % mask.shape[0]):
            raise _shape_error("mask", mask, f"(B_m, L) = (B_m, {y.shape[2]}) with {b} divisible by B_m")

    def _per_frame_timesteps(self, timestep, x_mask, num_frames: int) -> torch.Tensor:
        """(B,) or (B, T) -> (B, T') per token frame; frames with x_mask False get t = 0."""
        t = timestep if timestep.ndim == 2 else timestep[:, None].expand(-1, num_frames)
        if x_mask is not None:
            t = torch.where(x_mask.to(t.device).bool(), t, torch.zeros_like(t))
        return self._token_frames(t)

    def _token_frames(self, t: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, T'): with p_t > 1 the frames of one temporal patch must share their t."""
        p = self.patch_size[0]
        if p == 1:
            return t
        pad = (-t.shape[1]) % p
        groups = torch.cat([t, t[:, -1:].expand(-1, pad)], dim=1).unflatten(1, (-1, p))
        if not torch.equal(groups, groups[..., :1].expand_as(groups)):
            raise ValueError(f"with patch_size[0] = {p}, the frames of one temporal patch need equal timesteps")
        return groups[..., 0]

    @staticmethod
    def _batch_fps(fps, batch: int, device) -> torch.Tensor:
        """fps as a (B,) tensor (a number or a (B_f,) tensor with B % B_f == 0, repeated as in the reference)."""
        if fps is None:
            raise ValueError("fps is required (24 for video, 120 for images in Open-Sora v1.2)")
        fps = torch.as_tensor(fps, device=device).flatten()
        if batch % fps.numel():
            raise _shape_error("fps", fps, f"a number or (B,) with B = {batch}")
        return fps.repeat(batch // fps.numel())

    def _caption_drop_ids(self, batch: int, caption_drop, generator, device):
        """Which captions become the null caption: explicit ``caption_drop``, else random in training."""
        if caption_drop is not None:
            if caption_drop.shape != (batch,) or self.config.skip_y_embedder:
                raise _shape_error("caption_drop", caption_drop, f"(B,) = ({batch},), and skip_y_embedder False")
            return caption_drop.to(device).bool()
        p = self.config.class_dropout_prob
        if not self.training or p <= 0 or self.config.skip_y_embedder:
            return None
        gen_device = generator.device if generator is not None else "cpu"
        drop = (torch.rand(batch, generator=generator, device=gen_device) < p).to(device)
        return self._same_in_group(drop)

    def _same_in_group(self, drop: torch.Tensor) -> torch.Tensor:
        """Under sequence parallelism every rank of the group uses the first rank's caption dropout."""
        group = self._sp_group()
        if group is None:
            return drop
        drop = drop.to(torch.uint8)  # gloo broadcasts no bool tensors
        dist.broadcast(drop, src=dist.get_global_rank(group, 0), group=group)
        return drop.bool()

    def encode_text(self, y, mask=None, drop=None):
        """y: (B, 1, L, C_text) -> (tokens (B, L, C), key mask (B, L) bool, True = valid).

        A mask with fewer rows than y (CFG batch [cond; uncond]) is repeated, so the null branch uses the
        prompt's token count over the first rows of ``y_embedding``, as in the reference.
        """
        if not self.config.skip_y_embedder:
            y = self.y_embedder(y, drop)
        y = y.squeeze(1)
        b, length = y.shape[:2]
        if mask is None:
            return y, torch.ones(b, length, dtype=torch.bool, device=y.device)
        mask = (mask.to(y.device) != 0).repeat(b // mask.shape[0], 1)
        if not mask.any(dim=1).all():
            raise ValueError(f"every caption needs at least one valid token; mask row sums are {mask.sum(1).tolist()}")
        return y, mask

    def embed_video(self, x, height, width) -> torch.Tensor:
        """x: (B, C_in, T, H, W) -> tokens (B, T', S, C) plus the 2-D position embedding.

        scale = sqrt(height * width) / input_sq_size (pixel sizes of sample 0); base_size = round(sqrt(S)).
        """
        h = self.x_embedder(x)
        rows, cols = (-(-n // p) for n, p in zip(x.shape[3:], self.patch_size[1:]))
        scale = (_first_value(height, "height") * _first_value(width, "width")) ** 0.5 / self.config.input_sq_size
        pos = self.pos_embed(rows, cols, scale=scale, base_size=round((rows * cols) ** 0.5))
        return h + pos.to(h.dtype)

    def run_blocks(self, h, y, y_mask, t_mlp, shard: TokenShard | None = None) -> torch.Tensor:
        """Spatial block i, then temporal block i (RoPE over positions 0..T'-1), for every i.

        h: (B, T', S, C), or this rank's (B, T', S_loc, C) under sequence parallelism (``shard``).
        """
        rope = self.rope(h.shape[1])
        for spatial, temporal in zip(self.spatial_blocks, self.temporal_blocks):
            h = self._call_block(spatial, h, y, y_mask, t_mlp, None, shard)
            h = self._call_block(temporal, h, y, y_mask, t_mlp, rope, shard)
        return h

    def _call_block(self, block, *args):
        if self.gradient_checkpointing and torch.is_grad_enabled():
            return torch.utils.checkpoint.checkpoint(block, *args, use_reentrant=False)
        return block(*args)

    def unpatchify(self, x, size) -> torch.Tensor:
        """(B, T', S, p_t p_h p_w C_out) -> (B, C_out, T, H, W), cropped to the input size ``size`` = (T, H, W)."""
        pt, ph, pw = self.patch_size
        rows = -(-size[1] // ph)
        x = rearrange(x, "b t (h w) (pt ph pw c) -> b c (t pt) (h ph) (w pw)", h=rows, pt=pt, ph=ph, pw=pw)
        return x[:, :, : size[0], : size[1], : size[2]]

    # ---------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(cls, source, *, config_defaults: dict | None = None, **overrides) -> "STDiT3":
        """Build from ``source`` and load its weights with strict key and shape checks.

        source: a Hub id, a local snapshot directory (config.json + model.safetensors), or a
        ``.safetensors`` / ``.pt`` file. The config is config.json (when the source has one) updated by
        ``overrides``; for a bare file it is ``config_defaults`` (e.g. a registered factory's
        architecture) updated by ``overrides``. A missing ``rope.freqs`` is recomputed.
        Raises WeightsNotFoundError / CheckpointMismatchError (opensora.utils.ckpt) with the details.
        """
        check_overrides(overrides)
        saved = _saved_config(source)
        config = STDiT3Config(**{**(config_defaults or {}), **saved, **overrides})
        weights = resolve_weights(source)
        model = cls(config)
        state_dict = load_state_dict(weights)
        load_weights_strict(model, state_dict, optional_missing=(ROPE_KEY,))
        if ROPE_KEY not in state_dict:
            model.rope.reset_freqs()
        return model


def _saved_config(source) -> dict:
    """The STDiT3Config fields of ``source``'s config.json ({} for a bare weights file)."""
    local = Path(os.path.expanduser(str(source)))
    if local.is_file():
        return {}
    if local.is_dir():
        path = local / "config.json"
        if not path.is_file():
            return {}
    else:
        path = resolve_weights(source, filenames=("config.json",))
    saved = json.loads(Path(path).read_text())
    if saved.get("model_type", "STDiT3") != "STDiT3":
        raise ValueError(f"{path} describes a {saved['model_type']!r} model, not STDiT3; check the path")
    return {k: v for k, v in saved.items() if k in STDiT3Config.field_names()}


def build_stdit3(arch: dict, from_pretrained=None, **overrides) -> STDiT3:
    """A model with architecture ``arch`` updated by ``overrides``, with weights from ``from_pretrained``."""
    check_overrides(overrides)
    if from_pretrained is not None:
        return STDiT3.from_pretrained(from_pretrained, config_defaults=arch, **overrides)
    return STDiT3(STDiT3Config(**{**arch, **overrides}))


@MODELS.register_module("STDiT3-XL/2")
def STDiT3_XL_2(from_pretrained=None, **overrides) -> STDiT3:
    """XL/2: depth 28, hidden 1152, 16 heads, patch (1, 2, 2); 1.21 B parameters."""
    return build_stdit3(XL_2, from_pretrained, **overrides)


@MODELS.register_module("STDiT3-3B/2")
def STDiT3_3B_2(from_pretrained=None, **overrides) -> STDiT3:
    """3B/2: depth 28, hidden 1872, 26 heads, patch (1, 2, 2)."""
    return build_stdit3(B3_2, from_pretrained, **overrides)


@MODELS.register_module("STDiT3")
def STDiT3_any(from_pretrained=None, **overrides) -> STDiT3:
    """Any STDiT3Config fields (class defaults otherwise); used for tiny test models."""
    return build_stdit3({}, from_pretrained, **overrides)
