"""Training throughput: synthret's loop against sentence-transformers' ``SentenceTransformerTrainer`` with
``MultipleNegativesRankingLoss`` on the same model, data, batch size and sequence length, in one run.

Each contender runs in its own fresh process; throughput is measured over the training steps only (both
report it from inside their loops: synthret's ``samples_per_s``, transformers' ``train_samples_per_second``).
``--ray`` adds ``synthret train`` through Ray Train with 1 and 2 workers. The last line is
``ratio=<synthret samples/s / sentence-transformers samples/s>``.

    .venv/bin/python benchmarks/training_speed.py --rows 512
    python benchmarks/training_speed.py --device cuda --no-ray   # on a GPU machine without Ray (bf16 there)
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from _common import SHARED_DATASETS, measure

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def make_pairs(data: str, rows: int, out: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from synthret_ray.data.beir import doc_text, load_beir

    beir = load_beir(data, "train")
    pairs = [
        {"query_id": q, "query": beir.queries[q], "positive": doc_text(beir.corpus[d]), "negatives": []}
        for q, rels in beir.qrels.items()
        for d, s in rels.items()
        if s > 0
    ]
    pq.write_table(pa.Table.from_pylist((pairs * (rows // len(pairs) + 1))[:rows]), str(out))
    return out


def _overrides(args, data: Path, workdir: str, workers: int = 1) -> list[str]:
    return [
        "stage=pairs",
        f"train_data={data}",
        f"model={args.model}",
        f"output_dir={workdir}",
        f"optim.batch_size={args.batch_size}",
        f"optim.max_seq_length={args.max_seq_length}",
        "optim.shuffle_buffer=0",
        f"precision={args.precision}",
        f"scaling.num_workers={workers}",
        f"scaling.cpus_per_worker={args.cpus_per_worker / workers}",
    ]


def run_synthret_local(args, data: Path) -> float:
    from synthret_ray.config import load_config
    from synthret_ray.training.config import TrainConfig
    from synthret_ray.training.trainer import train_local

    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(TrainConfig, None, _overrides(args, data, tmp))
        runtime = train_local(cfg, Path(tmp) / "ckpt", args.device)
    return runtime.history[-1]["samples_per_s"]


def run_synthret_ray(args, data: Path, workers: int) -> float:
    import ray

    from synthret_ray.config import load_config
    from synthret_ray.training.config import TrainConfig
    from synthret_ray.training.trainer import train

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    with tempfile.TemporaryDirectory() as tmp:
        result = train(load_config(TrainConfig, None, _overrides(args, data, tmp, workers)))
    ray.shutdown()
    return result.best_metrics["samples_per_s"]


def run_sentence_transformers(args, data: Path) -> float:
    import pyarrow.parquet as pq
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    from synthret_ray.models import load_sentence_transformer

    table = pq.read_table(str(data)).to_pylist()
    dataset = Dataset.from_dict({"anchor": [r["query"] for r in table], "positive": [r["positive"] for r in table]})
    model = load_sentence_transformer(args.model, args.device)
    model.max_seq_length = args.max_seq_length
    with tempfile.TemporaryDirectory() as tmp:
        training_args = SentenceTransformerTrainingArguments(
            output_dir=tmp,
            per_device_train_batch_size=args.batch_size,
            num_train_epochs=1,
            learning_rate=2e-5,
            warmup_ratio=0.1,
            save_strategy="no",
            report_to=[],
            logging_strategy="no",
            dataloader_drop_last=True,
            bf16=args.precision == "bf16",
            use_cpu=args.device == "cpu",
            seed=42,
        )
        loss = MultipleNegativesRankingLoss(model, scale=20.0)
        trainer = SentenceTransformerTrainer(model=model, args=training_args, train_dataset=dataset, loss=loss)
        output = trainer.train()
    return output.metrics["train_samples_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_DATASETS / "scifact"))
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--cpus-per-worker", type=float, default=float(os.cpu_count() or 1))
    parser.add_argument("--no-ray", dest="ray", action="store_false", help="skip the Ray Train runs")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = make_pairs(args.data, args.rows, Path(tmp) / "pairs.parquet")
        print(
            f"{args.rows} (query, positive) pairs, batch {args.batch_size}, max_seq_length {args.max_seq_length}, "
            f"{args.precision} on {args.device}"
        )
        _, st_mem, st_rate = measure(run_sentence_transformers, args, data)
        print(f"sentence-transformers trainer (MNRL):  {st_rate:8.1f} samples/s  peak {st_mem:7.0f} MiB")
        _, our_mem, our_rate = measure(run_synthret_local, args, data)
        print(f"synthret loop, 1 worker (no Ray):      {our_rate:8.1f} samples/s  peak {our_mem:7.0f} MiB")
        if args.ray:
            _, _, ray1 = measure(run_synthret_ray, args, data, 1)
            print(f"synthret train, Ray Train 1 worker:    {ray1:8.1f} samples/s")
            _, _, ray2 = measure(run_synthret_ray, args, data, 2)
            print(f"synthret train, Ray Train 2 workers:   {ray2:8.1f} samples/s  (x{ray2 / ray1:.2f} vs 1 worker)")
        print(f"ratio={our_rate / st_rate:.3f}")


if __name__ == "__main__":
    main()
