"""Differentiable collectives for sequence parallelism (torch.distributed; gloo on CPU, nccl on GPU).

Gradient convention (the same as Open-Sora v1.2's ``split_forward_gather_backward(grad_scale="down")`` /
``gather_forward_split_backward(grad_scale="up")``)
=========================================================================================================
All K ranks of an SP group compute the same loss from the same gathered output. After ``backward`` a
parameter's gradient on one rank is

* the full gradient, for computation every rank repeats (embedders, ``t_block``);
* K x this rank's share, for computation that is split over the group (the blocks, the final layer).

So the **mean over the SP group is the exact gradient** for every parameter, and a data-parallel reducer
that averages over all W = D K ranks (DDP, ZeroRedundancyOptimizer or ColossalAI's LowLevelZero over the
world, as Open-Sora's ``zero2-seq`` plugin does) yields the mean over the D groups of their exact gradients.
A reducer that spans only the DP ranks needs :func:`opensora.acceleration.parallel_training.average_gradients`
over the SP group as well.

gloo implements ``all_to_all`` for CPU tensors (verified on torch 2.13), so the same code runs on both.
"""
from __future__ import annotations

import torch
import torch.distributed as dist


def _check_divisible(x: torch.Tensor, dim: int, size: int, what: str) -> None:
    if x.shape[dim] % size:
        raise ValueError(f"{what}: dimension {dim} of shape {tuple(x.shape)} is not divisible by the "
                         f"sequence-parallel size {size}; pad it first")


def _all_to_all(x: torch.Tensor, group, scatter_dim: int, gather_dim: int) -> torch.Tensor:
    size = dist.get_world_size(group)
    _check_divisible(x, scatter_dim, size, "all_to_all")
    sends = [part.contiguous() for part in x.chunk(size, dim=scatter_dim)]
    receives = [torch.empty_like(sends[0]) for _ in range(size)]
    dist.all_to_all(receives, sends, group=group)
    return torch.cat(receives, dim=gather_dim)


def _all_gather(x: torch.Tensor, group, dim: int) -> torch.Tensor:
    x = x.contiguous()
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size(group))]
    dist.all_gather(parts, x, group=group)
    return torch.cat(parts, dim=dim)


def _local_part(x: torch.Tensor, group, dim: int) -> torch.Tensor:
    size = dist.get_world_size(group)
    _check_divisible(x, dim, size, "split")
    return x.chunk(size, dim=dim)[dist.get_rank(group)].contiguous()


class _AllToAll(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, group, scatter_dim, gather_dim):
        ctx.group, ctx.dims = group, (scatter_dim, gather_dim)
        return _all_to_all(x, group, scatter_dim, gather_dim)

    @staticmethod
    def backward(ctx, grad):
        scatter_dim, gather_dim = ctx.dims
        return _all_to_all(grad, ctx.group, gather_dim, scatter_dim), None, None, None


class _Split(torch.autograd.Function):
    """Keep this rank's part; backward all-gathers the parts' gradients and divides by K."""

    @staticmethod
    def forward(ctx, x, group, dim):
        ctx.group, ctx.dim = group, dim
        return _local_part(x, group, dim)

    @staticmethod
    def backward(ctx, grad):
        return _all_gather(grad, ctx.group, ctx.dim) / dist.get_world_size(ctx.group), None, None


class _Gather(torch.autograd.Function):
    """Concatenate every rank's part; backward keeps this rank's part of the gradient, times K."""

    @staticmethod
    def forward(ctx, x, group, dim):
        ctx.group, ctx.dim = group, dim
        return _all_gather(x, group, dim)

    @staticmethod
    def backward(ctx, grad):
        return _local_part(grad, ctx.group, ctx.dim) * dist.get_world_size(ctx.group), None, None


def all_to_all(x: torch.Tensor, group, scatter_dim: int, gather_dim: int) -> torch.Tensor:
    """Split ``x`` into K parts along ``scatter_dim``, send part j to rank j, concatenate what arrives
    along ``gather_dim`` (rank order). Its own adjoint with the two dims swapped."""
    return _AllToAll.apply(x, group, scatter_dim, gather_dim)


def split_forward_gather_backward(x: torch.Tensor, group, dim: int) -> torch.Tensor:
    """This rank's 1/K of ``x`` along ``dim`` (the dim must divide); see the module's gradient convention."""
    return _Split.apply(x, group, dim)


def gather_forward_split_backward(x: torch.Tensor, group, dim: int) -> torch.Tensor:
    """Every rank's ``x`` concatenated along ``dim`` in rank order; see the module's gradient convention."""
    return _Gather.apply(x, group, dim)
