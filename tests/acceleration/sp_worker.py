"""Runs under ``torchrun --nproc_per_node=2`` (gloo, CPU): sequence-parallel STDiT3 against the plain model.

Every check builds the same seeded tiny model on both ranks, runs it with sp_size 2 and, locally on each
rank, without sequence parallelism, and records the largest absolute and relative differences. Rank 0
writes them to the JSON file given as the first argument; ``test_sequence_parallel.py`` asserts on them.
A second argument ``zero2`` runs only the ColossalAI ZeRO-2 training check.
"""
import json
import sys
import time

import torch
import torch.distributed as dist

from opensora.acceleration import TorchBackend, init_parallel_groups
from opensora.acceleration.parallel_training import average_gradients, broadcast_in_group
from opensora.models.stdit import STDiT3, STDiT3Config
from opensora.sampling.sliding_window import SlidingWindowSampler
from opensora.schedulers.guidance import cfg_velocity
from opensora.schedulers.noise_schedules import pa_inference_schedule

TINY = dict(depth=2, hidden_size=64, num_heads=2, caption_channels=32, model_max_length=8, class_dropout_prob=0.0)


def randomize(model, seed=1):
    """Non-trivial values everywhere (Open-Sora's init zeroes the temporal out-projections)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if name == "rope.freqs":
                continue
            if p.ndim > 1 and "scale_shift_table" not in name:
                p.copy_(noise * p[0].numel() ** -0.5)
            elif name.endswith("norm.weight"):
                p.copy_(1 + 0.2 * noise)
            else:
                p.copy_(0.3 * noise)
    return model


def pair(**overrides):
    """(sequence-parallel model, plain model) with identical weights."""
    cfg = {**TINY, **overrides}
    plain = randomize(STDiT3(STDiT3Config(**cfg)))
    sp = STDiT3(STDiT3Config(**cfg, enable_sequence_parallelism=True))
    sp.load_state_dict(plain.state_dict())
    return sp, plain


def inputs(b=2, t=3, h=5, w=6, seed=0):
    """Per-frame t, an x_mask with a conditioning frame, a partial caption mask."""
    gen = torch.Generator().manual_seed(seed)
    return dict(x=torch.randn(b, 4, t, h, w, generator=gen), timestep=torch.rand(b, t, generator=gen) * 1000,
                y=torch.randn(b, 1, 8, 32, generator=gen), mask=torch.tensor([[1] * 5 + [0] * 3, [1] * 8])[:b],
                x_mask=torch.tensor([[False] + [True] * (t - 1), [True] * t])[:b], fps=24, height=8 * h,
                width=8 * w)


def diffs(a, b):
    err = (a - b).abs().max().item()
    return dict(abs=err, rel=err / max(b.abs().max().item(), 1e-30))


def worst(records):
    return dict(abs=max(r["abs"] for r in records), rel=max(r["rel"] for r in records))


def check_forward():
    out = {}
    for name, over, size in [("odd_tokens_9", {}, (5, 6)), ("even_tokens_6", {}, (4, 6)),
                             ("heads4_tokens_15", dict(num_heads=4), (5, 10)), ("patch1_tokens_7", dict(
                                 patch_size=(1, 1, 1)), (7, 1))]:
        sp, plain = pair(**over)
        kw = inputs(h=size[0], w=size[1])
        with torch.no_grad():
            out[name] = diffs(sp.eval()(**kw), plain.eval()(**kw))
    return out


def check_refusal():
    sp, _ = pair(num_heads=3, hidden_size=48, depth=1)  # 3 heads cannot be split over 2 ranks
    try:
        sp.eval()(**inputs())
    except ValueError as err:
        return str(err)
    return "no error"


def loss_of(model, kw, target):
    return ((model(**kw)[:, :4] - target) ** 2).mean()


def check_gradients(grad_ckpt):
    sp, plain = pair(grad_ckpt=grad_ckpt)
    kw = inputs(seed=3)
    target = torch.randn(2, 4, 3, 5, 6, generator=torch.Generator().manual_seed(7))
    loss_sp, loss_plain = loss_of(sp.train(), kw, target), loss_of(plain.train(), kw, target)
    loss_sp.backward()
    loss_plain.backward()
    average_gradients(sp.parameters(), init_groups.sp_group)
    grads = [diffs(p.grad, q.grad) for p, q in zip(sp.parameters(), plain.parameters()) if q.grad is not None]
    return dict(loss=diffs(loss_sp.detach(), loss_plain.detach()), grads=worst(grads))


def check_train_steps(steps=3):
    """DDP + ZeroRedundancyOptimizer over the world (TorchBackend) with SP vs plain AdamW on one process.

    eps = lr: Adam's update lr g / (|g| + eps) changes by up to lr / eps times a change of g, so with the
    usual tiny eps the round-off of near-zero gradients (the key biases' true gradient is exactly zero:
    softmax ignores a constant added to every logit) becomes +-lr steps of random sign in *any* two runs.
    With eps = lr gradient round-off reaches the weights at most 1:1 and the comparison is about SP.
    """
    sp, plain = pair()
    sp.train()
    reference = torch.optim.AdamW(plain.parameters(), lr=1e-3, eps=1e-3, weight_decay=0.0)
    backend = TorchBackend(sp, dict(lr=1e-3, eps=1e-3), zero=True, dtype="fp32")
    losses, grads = [], []
    for step in range(steps):
        kw = inputs(seed=10 + step)
        target = torch.randn(2, 4, 3, 5, 6, generator=torch.Generator().manual_seed(20 + step))
        loss = ((backend.forward(**kw)[:, :4] - target) ** 2).mean()
        backend.backward(loss)  # DDP averages over both ranks = the SP group here
        ref = loss_of(plain.train(), kw, target)
        ref.backward()
        grads += [diffs(p.grad, q.grad) for p, q in zip(sp.parameters(), plain.parameters()) if q.grad is not None]
        backend.step()
        reference.step()
        reference.zero_grad()
        losses.append(diffs(loss.detach(), ref.detach()))
    params = [diffs(p.detach(), q.detach()) for p, q in zip(sp.parameters(), plain.parameters())]
    return dict(losses=worst(losses), grads=worst(grads), params=worst(params), steps=steps)


def check_colossal_zero2(steps=3):
    """ColossalAI LowLevelZero ZeRO-2 (fp32) over the world with SP vs plain AdamW (see check_train_steps)."""
    from opensora.acceleration import ColossalBackend

    sp, plain = pair()
    sp.train()
    reference = torch.optim.AdamW(plain.parameters(), lr=1e-3, eps=1e-3, weight_decay=0.0)
    backend = ColossalBackend(sp, dict(lr=1e-3, eps=1e-3), plugin="zero2", dtype="fp32")
    losses = []
    for step in range(steps):
        kw = inputs(seed=10 + step)
        target = torch.randn(2, 4, 3, 5, 6, generator=torch.Generator().manual_seed(20 + step))
        loss = ((backend.forward(**kw)[:, :4] - target) ** 2).mean()
        backend.backward(loss)
        backend.step()
        ref = loss_of(plain.train(), kw, target)
        ref.backward()
        reference.step()
        reference.zero_grad()
        losses.append(diffs(loss.detach(), ref.detach()))
    params = [diffs(p.detach(), q.detach()) for p, q in zip(backend.module.parameters(), plain.parameters())]
    return dict(losses=worst(losses), params=worst(params), steps=steps)


def check_generation():
    """A 2-process SP PA generation (CFG, tiny schedule) against the same run without SP."""
    sp, plain = pair(depth=1)
    schedule = pa_inference_schedule(5, ratio=1.0, chunk_size=2, num_noisy_chunks=2, num_steps=4, num_ref_chunks=0)
    y = torch.randn(1, 1, 8, 32, generator=torch.Generator().manual_seed(5))
    y_null = torch.randn(1, 1, 8, 32, generator=torch.Generator().manual_seed(6))
    latents = {}
    for name, model in (("sp", sp.eval()), ("plain", plain.eval())):
        def denoise(z, t, idx, model=model):
            with torch.no_grad():
                return cfg_velocity(model, z, t, y, y_null, 4.0, mask=torch.ones(1, 8), fps=24, height=40, width=48)

        sampler = SlidingWindowSampler(schedule, denoise, latent_shape=(4, 5, 6),
                                       generators=[torch.Generator().manual_seed(42)])
        latents[name] = torch.cat([chunk.latents for chunk in sampler], dim=2)
    same_on_ranks = [torch.empty_like(latents["sp"]) for _ in range(2)]
    dist.all_gather(same_on_ranks, latents["sp"])
    return dict(latents=diffs(latents["sp"], latents["plain"]), calls=schedule.num_iterations,
                shape=list(latents["sp"].shape), ranks_bitwise_equal=bool(torch.equal(*same_on_ranks)))


def check_broadcast():
    value = {"t": torch.full((3,), float(dist.get_rank())), "drop": torch.tensor([dist.get_rank() == 1])}
    broadcast_in_group(value, init_groups)
    return dict(t=value["t"].tolist(), drop=value["drop"].tolist())


if __name__ == "__main__":
    dist.init_process_group("gloo")
    torch.manual_seed(0)
    init_groups = init_parallel_groups(2)
    start = time.perf_counter()
    if sys.argv[2:] == ["zero2"]:  # a separate launch: importing colossalai costs ~10 s
        result = dict(world=dist.get_world_size(), zero2=check_colossal_zero2())
    else:
        result = dict(world=dist.get_world_size(), forward=check_forward(), refusal=check_refusal(),
                      gradients=check_gradients(False), gradients_ckpt=check_gradients(True),
                      train=check_train_steps(), generation=check_generation(), broadcast=check_broadcast())
    result["seconds"] = time.perf_counter() - start
    if dist.get_rank() == 0:
        with open(sys.argv[1], "w") as f:
            json.dump(result, f, indent=1)
    dist.destroy_process_group()
