"""Which in-batch documents a query must not see as negatives: another row's copy of one of its own documents.

Rows of one query share batches (``pairs`` data has a row per relevant document; generated queries of one passage
share it), so another row's copy of q_i's positive would be q_i's negative: two equal positives put a floor of
log 2 under InfoNCE. Texts are compared by 64-bit hashes, gathered across workers like the embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from synthret_ray.training.batching import query_key


def text_keys(texts: Sequence[str]) -> Tensor:
    """(N,) int64 hash of each text (the same hash that keys a preference row's query)."""
    return torch.tensor([query_key(t) for t in texts], dtype=torch.long)


def equal_text_hidden(
    own_keys: Tensor,
    own_valid: Tensor,
    col_keys: Tensor,
    col_owner: Tensor,
    query_keys: Tensor | None = None,
    col_same_query: Tensor | None = None,
) -> Tensor:
    """(B, C) True where column c, a document of another row, must be left out of row i's loss: its text equals
    one of row i's own texts (``own_keys`` (B, K) where ``own_valid``), or, with ``query_keys`` (B,), it is one
    of ``col_same_query`` (C,) (a positive) of a row with the same query text. Row i's own columns never are."""
    same_text = ((col_keys[None, :, None] == own_keys[:, None, :]) & own_valid[:, None, :]).any(dim=-1)
    if query_keys is not None and col_same_query is not None:
        same_text |= (query_keys[:, None] == query_keys[col_owner][None, :]) & col_same_query[None, :]
    rows = torch.arange(own_keys.shape[0], device=own_keys.device)
    return same_text & (col_owner[None, :] != rows[:, None])
