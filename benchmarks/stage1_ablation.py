"""Syntriever stage 1 on a finished run's data: which part of the group helps or hurts dev nDCG@10, and where the
teacher's texts sit relative to the query.

``--probe MODEL``: mean cosine of the query to each role of a group (source passage p_i, written positive p+,
reasoning q_cot, written negative p-, another query's p_i) under zero-shot MiniLM and under MODEL (e.g. a stage-1
checkpoint's model folder). Otherwise: each variant trains MiniLM for one epoch (``train_local``, no Ray) on the
same seeded sample of groups and prints dev nDCG@10 (the run's held-out generated queries, never test).

    .venv/bin/python benchmarks/stage1_ablation.py --run runs/quality/cranfield/syntriever
    .venv/bin/python benchmarks/stage1_ablation.py --run runs/quality/cranfield/syntriever --probe CHECKPOINT/model
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# group.max_positives keeps the first n of (p_i, p+, q_cot); group.max_negatives the first n written negatives
VARIANTS = {
    "all_positives_with_written_negatives": {"max_positives": 3, "max_negatives": 4},
    "no_cot_with_written_negatives": {"max_positives": 2, "max_negatives": 4},
    "source_with_written_negatives": {"max_positives": 1, "max_negatives": 4},
    "source_in_batch_only": {"max_positives": 1, "max_negatives": 0},
    "all_positives_in_batch_only": {"max_positives": 3, "max_negatives": 0},
    "source_and_written_positive_in_batch_only": {"max_positives": 2, "max_negatives": 0},
    # NV-Retriever's positive-aware filter on the written negatives (group.negative_max_ratio)
    "all_positives_with_filtered_negatives": {"max_positives": 3, "max_negatives": 4, "negative_max_ratio": 0.95},
    "source_with_filtered_negatives": {"max_positives": 1, "max_negatives": 4, "negative_max_ratio": 0.95},
    # corpus passages the starting model ranks high, filtered the same way (group.mined_negatives), put ahead of
    # the written ones: max_negatives = mined_negatives keeps the mined alone
    "source_with_mined_negatives": {"max_positives": 1, "max_negatives": 2, "mined_negatives": 2},
    "source_and_written_positive_with_mined_negatives": {"max_positives": 2, "max_negatives": 2, "mined_negatives": 2},
    "all_positives_with_mined_negatives": {"max_positives": 3, "max_negatives": 2, "mined_negatives": 2},
}


def groups(run: str) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(os.path.join(run, "verify", "export", "distill.parquet")).to_pylist()


def probe(run: str, model: str, n: int) -> None:
    import numpy as np

    from synthret_ray.models import load_sentence_transformer

    rows = groups(run)
    random.Random(1).shuffle(rows)
    rows = [r for r in rows if len(r["positives"]) == 3 and r["negatives"]][:n]
    roles = {
        "p_i": [r["positives"][0] for r in rows],
        "p+": [r["positives"][1] for r in rows],
        "q_cot": [r["positives"][2] for r in rows],
        "p-": [r["negatives"][0] for r in rows],
    }
    for name, path in (("zero-shot", "minilm"), (model, model)):
        st = load_sentence_transformer(path, "cpu")
        q = st.encode([r["query"] for r in rows], normalize_embeddings=True, batch_size=32)
        vectors = {role: st.encode(texts, normalize_embeddings=True, batch_size=32) for role, texts in roles.items()}
        means = {role: float((q * v).sum(1).mean()) for role, v in vectors.items()}
        means["another query's p_i"] = float((q * np.roll(vectors["p_i"], 1, axis=0)).sum(1).mean())
        print(name, {k: round(v, 3) for k, v in means.items()}, flush=True)


def ablate(run: str, n: int, names: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from synthret_ray.training.config import TrainConfig
    from synthret_ray.training.trainer import train_local

    rows = groups(run)
    random.Random(0).shuffle(rows)
    with tempfile.TemporaryDirectory(prefix="stage1_ablation_") as tmp:
        data = os.path.join(tmp, "sample.parquet")
        pq.write_table(pa.Table.from_pylist(rows[:n]), data)
        for name in names:
            cfg = TrainConfig.model_validate(
                {
                    "stage": "distill",
                    "train_data": data,
                    "model": "minilm",
                    "output_dir": os.path.join(tmp, name),
                    "run_name": name,
                    "loss": {"name": "syntriever_distill", "temperature": 0.05},
                    "optim": {"epochs": 1, "batch_size": 8, "lr": 2e-5, "max_seq_length": 256},
                    "eval": {"data": os.path.join(run, "split", "dev"), "split": "dev", "at_start": False},
                    # mined from the run's corpus (the dev folder holds the whole corpus)
                    "group": {**VARIANTS[name], "mine_corpus": os.path.join(run, "split", "dev")}
                    if VARIANTS[name].get("mined_negatives")
                    else VARIANTS[name],
                }
            )
            start = time.time()
            runtime = train_local(cfg, os.path.join(tmp, name, "checkpoints"), device="cpu")
            scored = [
                (h["step"], round(h["ndcg_at_10"], 4), round(h.get("loss", float("nan")), 4))
                for h in runtime.history
                if "ndcg_at_10" in h
            ]
            print(
                json.dumps(
                    {
                        "variant": name,
                        "seconds": round(time.time() - start),
                        "dev": scored,
                    }
                ),
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a syntriever run folder with verify/export and split/dev")
    parser.add_argument("--groups", type=int, default=256, help="seeded sample of stage-1 groups per variant")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--probe", help="a model folder: print the cosine probe instead of training")
    args = parser.parse_args()
    if args.probe:
        probe(args.run, args.probe, 80)
    else:
        ablate(args.run, args.groups, args.variants)


if __name__ == "__main__":
    main()
