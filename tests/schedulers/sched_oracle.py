"""Shared helpers for the scheduler tests: an independent oracle walk over a ChunkSchedule."""
import torch

from opensora.schedulers import add_noise, cfg_denoiser, euler_step

# Method section 2: sigma(30) .. sigma(1) for r = 3.6875, S = 30 (0.1 precision), then 0.
PA_60S_COLUMN = [1000, 990.7, 981.0, 970.7, 959.9, 948.6, 936.5, 923.8, 910.2, 895.9, 880.6, 864.3, 846.9,
                 828.2, 808.2, 786.7, 763.4, 738.2, 710.8, 681.0, 648.4, 612.5, 572.8, 528.8, 479.7, 424.5,
                 362.0, 290.6, 208.5, 112.8, 0.0]


def oracle_model(x0, index):
    """Fake STDiT3: exact velocity (x0 - z) / (t / 1000) where t > 0, NaN sentinel where t == 0; 8 channels."""

    def model(z, t, y=None, **kw):
        tau = (t / 1000)[:, None, :, None, None]
        ref = x0[:, :, index].repeat(z.shape[0] // x0.shape[0], 1, 1, 1, 1)  # [cond; uncond] halves
        v = torch.where(tau > 0, (ref - z) / torch.where(tau > 0, tau, 1.0), torch.full_like(z, float("nan")))
        return torch.cat([v, torch.randn_like(v)], dim=1)

    return model


def walk(schedule, x0, generator, guidance=7.0):
    """Minimal independent sampler: walk ``schedule`` latent by latent with the oracle; returns (z, trace).

    trace: per latent, the list of model timesteps it was updated from (active only), plus the window
    lengths and the number of calls.
    """
    c = schedule.chunk_size
    lv0 = schedule.levels[0].repeat_interleave(c)[None]
    eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    z = add_noise(x0, eps, lv0)
    seen = [[] for _ in range(x0.shape[2])]
    windows = []
    y = torch.zeros(1, 3)
    for i in range(schedule.num_iterations):
        ctx, act = schedule.context(i), schedule.active(i)
        idx = torch.tensor([ci * c + j for ci in ctx + act for j in range(c)])
        t, t_next = schedule.window_timesteps(i), schedule.window_timesteps(i, after=True)
        x_in = z[:, :, idx].clone()
        n_ctx = len(ctx) * c
        if schedule.context_mode == "renoise" and n_ctx:
            fresh = torch.randn(x_in[:, :, :n_ctx].shape, generator=generator, dtype=x0.dtype)
            x_in[:, :, :n_ctx] = add_noise(x0[:, :, idx[:n_ctx]], fresh, t[:, :n_ctx])
        v = cfg_denoiser(oracle_model(x0, idx), y, y, guidance)(x_in, t)
        a = idx[n_ctx:]
        z[:, :, a] = euler_step(z[:, :, a], v[:, :, n_ctx:], t[:, n_ctx:], t_next[:, n_ctx:])
        for pos, lat in enumerate(a.tolist()):
            seen[lat].append(float(t[0, n_ctx + pos]))
        windows.append(len(idx))
    return z, {"seen": seen, "windows": windows}

