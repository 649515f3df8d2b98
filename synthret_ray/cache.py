"""Where synthret_ray keeps what it can rebuild: converted GGUF models, corpus embeddings."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("SYNTHRET_CACHE", Path.home() / ".cache" / "synthret"))
