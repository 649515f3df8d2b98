"""Cross-worker helpers: embeddings gathered with gradients kept on the local slice."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside torch.distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather(tensor: Tensor) -> Tensor:
    """Concatenate ``tensor`` from every worker along dim 0, in rank order.

    Other workers' parts arrive without gradient; the local part keeps its graph. Each worker then computes the
    loss over the global batch; the gradient of that loss reaches the parameters only through local embeddings,
    so summing over workers gives the full gradient, and DDP's averaging is undone by backpropagating
    ``loss * world_size`` (see ``steps.backward_scale``). This needs only all_gather, which gloo and NCCL both have.
    """
    rank, size = world()
    if size == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(size)]
    dist.all_gather(parts, tensor.detach().contiguous())
    parts[rank] = tensor
    return torch.cat(parts)
