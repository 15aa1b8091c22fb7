"""Independent functional reference of Open-Sora v1.2 STDiT3 (hpcaitech/Open-Sora a29424c), fp32, for tests.

Written from the published math, not from ``opensora.models``: it reads a plain state dict and uses only
tensor ops. Deliberate differences from the package, so that a shared bug cannot hide:

- patch embedding as an explicit patch matmul (no Conv3d);
- hand-written LayerNorm, RMSNorm, GELU(tanh), SiLU and softmax; attention as explicit matrix products;
- cross-attention over Open-Sora's *packed* caption tokens with a per-sample loop (the xformers
  ``BlockDiagonalMask`` semantics), including the CFG quirk (a shorter mask batch is repeated);
- RoPE rotating even/odd channel pairs explicitly;
- Open-Sora's separate ``x_mask`` t0 path (both modulations computed, then selected per frame), including
  its final-layer quirk (the t0 branch re-normalises the already modulated x).

Per-frame timesteps (B, T) are supported the PA-VDM way: each frame is modulated by its own row; a (B,)
timestep uses one row for the whole clip, exactly as Open-Sora does.
"""
import math

import torch


def _linear(sd, prefix, x):
    return x @ sd[prefix + ".weight"].T + sd[prefix + ".bias"]


def _silu(x):
    return x / (1 + torch.exp(-x))


def _gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def _layer_norm(x, eps=1e-6):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def _rms_norm(x, weight, eps=1e-6):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * weight


def _softmax(scores):
    e = torch.exp(scores - scores.max(-1, keepdim=True).values)
    return e / e.sum(-1, keepdim=True)


def _attend(q, k, v):
    """q: (..., Lq, D), k/v: (..., Lk, D)."""
    return _softmax((q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)) @ v


def _sinusoid(values, dim=256):
    """[cos, sin] GLIDE embedding of raw values: (N,) -> (N, dim).

    The frequencies are rounded exactly as the published code rounds them: at t = 1000 one ulp of a
    frequency moves the angle by ~1e-4 rad, far above the parity tolerance.
    """
    j = torch.arange(0, dim // 2, dtype=torch.float32)
    freqs = torch.exp(-math.log(10000) * j / (dim // 2))
    args = values.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def _embed_scalar(sd, prefix, values):
    """sinusoid -> Linear -> SiLU -> Linear, values: (N,) -> (N, C)."""
    h = _linear(sd, prefix + ".mlp.0", _sinusoid(values))
    return _linear(sd, prefix + ".mlp.2", _silu(h))


def _patchify(sd, x, patch):
    """Zero-pad (end of T, H, W) and project each patch: (B, Cin, T, H, W) -> (B, T', H', W', C)."""
    pt, ph, pw = patch
    b, cin, t, h, w = x.shape
    tp, hp, wp = -(-t // pt), -(-h // ph), -(-w // pw)
    padded = x.new_zeros(b, cin, tp * pt, hp * ph, wp * pw)
    padded[:, :, :t, :h, :w] = x
    patches = padded.reshape(b, cin, tp, pt, hp, ph, wp, pw).permute(0, 2, 4, 6, 1, 3, 5, 7)
    weight = sd["x_embedder.proj.weight"]
    flat = patches.reshape(b, tp, hp, wp, -1)
    return flat @ weight.reshape(weight.shape[0], -1).T + sd["x_embedder.proj.bias"]


def _pos_embed(c, hp, wp, scale, base_size):
    """(hp * wp, C): [sin, cos] of the column coordinate, then [sin, cos] of the row coordinate."""
    omega = 1.0 / (10000 ** (torch.arange(0, c // 2, 2).float() / (c // 2)))  # published rounding
    emb = torch.empty(hp * wp, c)
    for r in range(hp):
        for col in range(wp):
            y_coord = r / scale * (base_size / hp)
            x_coord = col / scale * (base_size / wp)
            a = torch.tensor(x_coord, dtype=torch.float32) * omega
            b = torch.tensor(y_coord, dtype=torch.float32) * omega
            emb[r * wp + col] = torch.cat([a.sin(), a.cos(), b.sin(), b.cos()])
    return emb


def _rope(x, freqs):
    """Rotate adjacent channel pairs of x: (..., T, D) by angle p * freqs[i], p = 0..T-1."""
    angles = torch.arange(x.shape[-2], dtype=torch.float32)[:, None] * freqs[None, :]
    cos, sin = angles.cos(), angles.sin()
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack([even * cos - odd * sin, odd * cos + even * sin], dim=-1).flatten(-2)


def _self_attention(sd, p, seq, heads, qk_norm, freqs):
    """seq: (N, L, C) -> (N, L, C)."""
    n, length, c = seq.shape
    qkv = _linear(sd, p + ".qkv", seq).reshape(n, length, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    if qk_norm:
        q, k = _rms_norm(q, sd[p + ".q_norm.weight"]), _rms_norm(k, sd[p + ".k_norm.weight"])
    if freqs is not None:
        q, k = _rope(q, freqs), _rope(k, freqs)
    out = _attend(q, k, v).permute(0, 2, 1, 3).reshape(n, length, c)
    return _linear(sd, p + ".proj", out)


def _cross_attention(sd, p, x, y_packed, y_lens, heads):
    """x: (B, N, C) queries; y_packed: (sum(y_lens), C); sample b sees only its own y_lens[b] tokens."""
    c = x.shape[-1]
    d = c // heads
    outs, start = [], 0
    for b, n_tok in enumerate(y_lens):
        q = _linear(sd, p + ".q_linear", x[b]).reshape(-1, heads, d).transpose(0, 1)
        kv = _linear(sd, p + ".kv_linear", y_packed[start:start + n_tok]).reshape(n_tok, 2, heads, d)
        k, v = kv[:, 0].transpose(0, 1), kv[:, 1].transpose(0, 1)
        outs.append(_attend(q, k, v).transpose(0, 1).reshape(-1, c))
        start += n_tok
    return _linear(sd, p + ".proj", torch.stack(outs))


def _six(sd, p, t_mlp):
    """t_mlp: (B, Tf, 6C) -> six (B, Tf, 1, C) tensors (shift, scale, gate for msa, then mlp)."""
    b, tf, _ = t_mlp.shape
    table = sd[p + ".scale_shift_table"]
    mods = table[None, None] + t_mlp.reshape(b, tf, 6, -1)
    return [mods[:, :, i, None] for i in range(6)]


def _block(sd, p, x, ctx, temporal):
    """One STDiT3 block on x: (B, T, S, C), following Open-Sora's STDiT3Block.forward (with x_mask path)."""
    b, t, s, c = x.shape
    m = _six(sd, p, ctx["t_mlp"])
    x_mask = ctx["x_mask"]
    m0 = _six(sd, p, ctx["t0_mlp"]) if x_mask is not None else m

    def select(val, val0):
        return val if x_mask is None else torch.where(x_mask[:, :, None, None], val, val0)

    n1 = _layer_norm(x)
    h = select(n1 * (1 + m[1]) + m[0], n1 * (1 + m0[1]) + m0[0])
    if temporal:
        seq = h.permute(0, 2, 1, 3).reshape(b * s, t, c)
        h = _self_attention(sd, p + ".attn", seq, ctx["heads"], ctx["qk_norm"], ctx["freqs"])
        h = h.reshape(b, s, t, c).permute(0, 2, 1, 3)
    else:
        h = _self_attention(sd, p + ".attn", h.reshape(b * t, s, c), ctx["heads"], ctx["qk_norm"], None)
        h = h.reshape(b, t, s, c)
    x = x + select(m[2] * h, m0[2] * h)
    cross = _cross_attention(sd, p + ".cross_attn", x.reshape(b, t * s, c), ctx["y"], ctx["y_lens"], ctx["heads"])
    x = x + cross.reshape(b, t, s, c)
    n2 = _layer_norm(x)
    h = select(n2 * (1 + m[4]) + m[3], n2 * (1 + m0[4]) + m0[3])
    h = _linear(sd, p + ".mlp.fc2", _gelu_tanh(_linear(sd, p + ".mlp.fc1", h)))
    return x + select(m[5] * h, m0[5] * h)


def _final_layer(sd, x, t_emb, t0_emb, x_mask):
    """x: (B, T, S, C); t_emb: (B, Tf, C). Reproduces Open-Sora's T2IFinalLayer, quirk included."""
    table = sd["final_layer.scale_shift_table"]
    mods = table[None, None] + t_emb[:, :, None]
    out = _layer_norm(x) * (1 + mods[:, :, 1, None]) + mods[:, :, 0, None]
    if x_mask is not None:
        mods0 = table[None, None] + t0_emb[:, :, None]
        out0 = _layer_norm(out) * (1 + mods0[:, :, 1, None]) + mods0[:, :, 0, None]
        out = torch.where(x_mask[:, :, None, None], out, out0)
    return _linear(sd, "final_layer.linear", out)


def _captions(sd, y, mask):
    """Project and pack the valid caption tokens like Open-Sora: -> ((sum y_lens, C), y_lens)."""
    h = _linear(sd, "y_embedder.y_proj.fc2", _gelu_tanh(_linear(sd, "y_embedder.y_proj.fc1", y[:, 0])))
    b, length, _ = h.shape
    if mask is None:
        return h.reshape(b * length, -1), [length] * b
    if mask.shape[0] != b:
        mask = mask.repeat(b // mask.shape[0], 1)
    keep = mask != 0
    return h[keep], keep.sum(1).tolist()


def reference_forward(sd, cfg, x, timestep, y, mask=None, x_mask=None, fps=24.0, height=None, width=None):
    """Open-Sora v1.2 STDiT3 forward from a state dict ``sd`` and a config dict ``cfg``.

    cfg keys: hidden_size, num_heads, depth, patch_size, in_channels, pred_sigma, qk_norm, input_sq_size.
    x: (B, Cin, T, H, W); timestep: (B,) (Open-Sora) or (B, T) (per frame); y: (B, 1, L, C_text);
    mask: (B_m, L); x_mask: (B, T) bool (Open-Sora's t0 path). Returns (B, C_out, T, H, W).
    """
    c, patch = cfg["hidden_size"], tuple(cfg["patch_size"])
    b, _, t, h, w = x.shape
    tokens = _patchify(sd, x.float(), patch)  # (B, T', H', W', C)
    tp, hp, wp = tokens.shape[1:4]
    scale = math.sqrt(float(height) * float(width)) / cfg.get("input_sq_size", 512)
    tokens = tokens.reshape(b, tp, hp * wp, c) + _pos_embed(c, hp, wp, scale, round(math.sqrt(hp * wp)))

    rows = timestep.float().reshape(b, -1)  # (B, 1) for a clip-level t, (B, T) per frame
    fps_emb = _embed_scalar(sd, "fps_embedder", torch.full((b,), float(fps)))
    t_emb = _embed_scalar(sd, "t_embedder", rows.reshape(-1)).reshape(b, rows.shape[1], c) + fps_emb[:, None]
    t0_emb = _embed_scalar(sd, "t_embedder", torch.zeros(b)).reshape(b, 1, c) + fps_emb[:, None]
    y_packed, y_lens = _captions(sd, y.float(), mask)
    head_dim = c // cfg["num_heads"]
    freqs = sd.get("rope.freqs", 1.0 / 10000 ** (torch.arange(0, head_dim, 2).float() / head_dim))
    ctx = dict(t_mlp=_linear(sd, "t_block.1", _silu(t_emb)), t0_mlp=_linear(sd, "t_block.1", _silu(t0_emb)),
               x_mask=x_mask, y=y_packed, y_lens=y_lens, heads=cfg["num_heads"], qk_norm=cfg["qk_norm"],
               freqs=freqs)
    for i in range(cfg["depth"]):
        tokens = _block(sd, f"spatial_blocks.{i}", tokens, ctx, temporal=False)
        tokens = _block(sd, f"temporal_blocks.{i}", tokens, ctx, temporal=True)

    out = _final_layer(sd, tokens, t_emb, t0_emb, x_mask)  # (B, T', S, pt*ph*pw*Cout)
    c_out = cfg["in_channels"] * (2 if cfg["pred_sigma"] else 1)
    out = out.reshape(b, tp, hp, wp, *patch, c_out).permute(0, 7, 1, 4, 2, 5, 3, 6)
    out = out.reshape(b, c_out, tp * patch[0], hp * patch[1], wp * patch[2])
    return out[:, :, :t, :h, :w].float()
