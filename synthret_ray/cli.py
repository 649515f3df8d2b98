"""The ``synthret`` command line: ``run``, ``report``, ``synthesize``, ``train``, ``eval``,
``data validate|download|export-pairs``, ``demo``.

Every command that takes ``--config FILE`` also takes dotted ``key.sub=value`` overrides as trailing
arguments; flags such as ``--model`` are shortcuts for the same keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from synthret_ray.config import ConfigError, load_config
from synthret_ray.data.beir import DataFormatError
from synthret_ray.engines import EngineError
from synthret_ray.models import ModelNotFoundError

HELP = (
    "Turn a document corpus into a trained dense retriever and reranker with LLM-made training data, on Ray. "
    "Start with `synthret run --config configs/quickstart.yaml`; every command that takes --config also takes "
    "dotted key=value overrides."
)
app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help=HELP)
data_app = typer.Typer(no_args_is_help=True, help="BEIR datasets: validate, download, export pairs.")
app.add_typer(data_app, name="data")
console = Console()
err_console = Console(stderr=True)

USER_ERRORS = (ConfigError, DataFormatError, ModelNotFoundError, EngineError, FileNotFoundError, ValueError)
DEMO_DATA = Path(__file__).parent / "resources" / "pydocs"
TRAIN_COLUMNS = ("epoch", "step", "loss", "samples_per_s", "ndcg_at_10", "recall_at_100")

Overrides = Annotated[list[str] | None, typer.Argument(help="Dotted overrides, e.g. encode.batch_size=128.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config; see configs/.")]


def _fail(exc: BaseException) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


@app.command("eval")
def eval_command(
    config: ConfigOpt = None,
    data: Annotated[str | None, typer.Option(help="BEIR folder (local, s3://, gs://).")] = None,
    split: Annotated[str | None, typer.Option(help="qrels split to score against.")] = None,
    retriever: Annotated[str | None, typer.Option(help="bm25 or dense.")] = None,
    model: Annotated[str | None, typer.Option(help="Dense encoder: folder, hub id or packaged name.")] = None,
    reranker: Annotated[str | None, typer.Option(help="Cross-encoder to rerank the first stage.")] = None,
    depth: Annotated[int | None, typer.Option(help="Candidates reranked per query.")] = None,
    out: Annotated[str | None, typer.Option(help="results.json path; per-query, run and config files beside.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    overrides: Overrides = None,
) -> None:
    """Evaluate BM25 or a dense model (optionally + a reranker) on a BEIR split with pytrec_eval."""
    from synthret_ray.evaluation import EvalConfig, run_eval
    from synthret_ray.evaluation.report import print_metrics
    from synthret_ray.evaluation.runner import output_paths

    flags = {
        "data": data,
        "split": split,
        "retriever": retriever,
        "model": model,
        "out": out,
        "reranker.model": reranker,
        "reranker.depth": depth,
    }
    try:
        cfg = load_config(EvalConfig, config, overrides, values={k: v for k, v in flags.items() if v is not None})
        _show_config(cfg)
        result = run_eval(cfg, progress=not quiet)
    except USER_ERRORS as exc:
        raise _fail(exc) from None
    print_metrics([result.summary()], title=f"{cfg.data} ({cfg.split})", console=console)
    if cfg.out:
        for kind, path in output_paths(cfg.out).items():
            console.print(f"{kind:>9}: {path}")


@app.command("run")
def run_command(
    config: ConfigOpt = None,
    from_stage: Annotated[str | None, typer.Option("--from", help="Redo this stage and every stage after it.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    overrides: Overrides = None,
) -> None:
    """Run a recipe (syntriever, sycl, reranker, promptagator) end to end; finished stages with the same config are
    skipped."""
    from ray.train import TrainingFailedError

    from synthret_ray.pipeline import PipelineError, RecipeConfig, run_recipe

    try:
        cfg = load_config(RecipeConfig, config, overrides, values={"progress": False} if quiet else None)
        _show_config(cfg)
        summary = run_recipe(
            cfg, from_stage, log=lambda line: console.print(line, style="bold", markup=False, soft_wrap=True)
        )
    except (*USER_ERRORS, PipelineError, TrainingFailedError) as exc:
        raise _fail(exc) from None
    print_summary(summary)


def print_summary(summary: dict) -> None:
    from synthret_ray.evaluation.report import print_metrics
    from synthret_ray.pipeline.report import stage_row

    rows = list(summary["evaluation"]["systems"].values())
    print_metrics(rows, title=f"{summary['recipe']} on {summary['data']} ({summary['test_split']})", console=console)
    table = Table(title="stages (bad = malformed, filt = filtered rows)")
    for col in ("stage", "s", "rows", "ok", "bad", "filt", "tokens", "GPU h", "CPU h"):
        table.add_column(col, justify="right")
    # hours reserved by engine actors or training workers (the driver's own work is not counted)
    keys = ("name", "seconds", "rows", "ok", "malformed", "filtered", "tokens", "gpu", "cpu")
    for name, stage in summary["stages"].items():
        row = stage_row(name, stage)
        table.add_row(*("-" if row[k] in ("", None) else str(row[k]) for k in keys))
    console.print(table)
    console.print(f"plots: {', '.join(summary.get('plots', []))}", soft_wrap=True)
    if summary.get("report"):
        console.print(f"report: {summary['report']}", soft_wrap=True)


@app.command("report")
def report_command(run_dir: Annotated[str, typer.Argument(help="A `synthret run` folder (local, s3://).")]) -> None:
    """Rebuild a run folder's report.html: stages, test metrics with p-values, plots, samples of the teacher's rows."""
    from synthret_ray.data import fs
    from synthret_ray.pipeline.report import write_report

    if not fs.exists(fs.join(run_dir, "summary.json")):
        console.print(f"{run_dir}: no summary.json (is it a finished `synthret run` folder?)", style="red")
        raise typer.Exit(code=2)
    console.print(write_report(run_dir), soft_wrap=True)


@app.command("tune")
def tune_command(config: ConfigOpt = None, overrides: Overrides = None) -> None:
    """Ray Tune search over training hyperparameters (Optuna + ASHA by default), scored on dev queries."""
    from ray.train import TrainingFailedError

    from synthret_ray.tuning import TuneConfig, tune

    try:
        cfg = load_config(TuneConfig, config, overrides)
        _show_config(cfg)
        result = tune(cfg)
    except (*USER_ERRORS, TrainingFailedError) as exc:
        raise _fail(exc) from None
    table = Table(title=f"{len(result.trials)} trials, best first ({cfg.metric} on {cfg.train.eval.split} queries)")
    columns = list(result.trials[0]) if result.trials else []
    for col in columns:
        table.add_column(col.removeprefix("config/"), justify="right")
    for trial in result.trials:
        table.add_row(*(_fmt(trial[c]) for c in columns))
    console.print(table)
    console.print(
        f"best: {result.best_params} -> {result.best_config_path}; all trials: {result.trials_path}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("merge")
def merge_command(
    tuned: Annotated[str, typer.Option(help="The fine-tuned bi-encoder (a folder).")],
    start: Annotated[str, typer.Option(help="The model it was trained from: folder, hub id or packaged name.")],
    out: Annotated[str, typer.Option(help="Folder for the merged model.")],
    weight: Annotated[
        float, typer.Option(help="w in (1 - w) * start + w * tuned (WiSE-FT); 1 is the tuned model.")
    ] = 0.5,
) -> None:
    """Interpolate a fine-tuned bi-encoder's weights with its start model's (WiSE-FT, LM-Cocktail)."""
    from synthret_ray.training.merge import merge_biencoders

    try:
        path = merge_biencoders(start, tuned, weight, out)
    except USER_ERRORS as exc:
        raise _fail(exc) from None
    console.print(f"merged: {path} = {1 - weight:g} x {start} + {weight:g} x {tuned}", markup=False)


@app.command("synthesize")
def synthesize_command(
    config: ConfigOpt = None,
    task: Annotated[str | None, typer.Option(help="queries | distill | verify | graded | label | prefer.")] = None,
    out: Annotated[str | None, typer.Option(help="Run folder (output_dir).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    overrides: Overrides = None,
) -> None:
    """Generate training data with an LLM on Ray Data; re-running the same command resumes the run folder."""
    from synthret_ray.synthesis.config import SynthesisConfig
    from synthret_ray.synthesis.pipeline import synthesize

    flags = {"task": task, "output_dir": out, "progress": False if quiet else None}
    try:
        cfg = load_config(SynthesisConfig, config, overrides, values={k: v for k, v in flags.items() if v is not None})
        _show_config(cfg)
        result = synthesize(cfg)
    except USER_ERRORS as exc:
        raise _fail(exc) from None
    run = result.stats["this_run"]
    folder = result.stats["run_folder"]
    table = Table(title=f"{cfg.task}: {folder['rows']:,} rows in {result.output_dir}")
    for col in ("", "this run", "run folder"):
        table.add_column(col, justify="right")
    table.add_row("rows", f"{run['rows_written']:,}", f"{folder['rows']:,}")
    for status in ("ok", "malformed", "filtered", "error"):
        table.add_row(status, f"{run['statuses'].get(status, 0):,}", f"{folder['statuses'].get(status, 0):,}")
    table.add_row("skipped (done before)", f"{run['already_done']:,}", "")
    table.add_row("generated tokens/s", _fmt(run["generated_tokens_per_s"]), "")
    table.add_row("rows/s", _fmt(run["rows_per_s"]), "")
    console.print(table)
    for reason, count in list(folder["reasons"].items())[:8]:
        console.print(f"  {count:>6,}  {reason}", highlight=False)
    for name, count in result.exported.items():
        console.print(f"export/{name}: {count:,} rows", highlight=False)


def _show_config(cfg) -> None:
    console.print(
        yaml.safe_dump(cfg.model_dump(mode="json", exclude_defaults=True), sort_keys=False).strip(),
        style="dim",
        highlight=False,
    )


@data_app.command("validate")
def validate_command(data_dir: Annotated[str, typer.Argument(help="BEIR folder to check.")]) -> None:
    """Check a BEIR folder; every problem is listed with file and line. Exit code 1 on errors."""
    from synthret_ray.data.validate import validate_beir

    report = validate_beir(data_dir)
    for problem in report.problems:
        err_console.print(
            str(problem), style="red" if problem.severity == "error" else "yellow", highlight=False, soft_wrap=True
        )
    if report.suppressed:
        err_console.print(f"... and {report.suppressed} more problems not listed")
    for key, value in report.counts.items():
        console.print(f"{key:>24}: {value:,}")
    n_err = len(report.errors) + report.suppressed_errors
    console.print(f"{n_err} error(s), {len(report.warnings)} warning(s) in {data_dir}", soft_wrap=True)
    if not report.ok:
        raise typer.Exit(code=1)


@data_app.command("download")
def download_command(
    name: Annotated[str, typer.Argument(help="BEIR dataset name, e.g. scifact.")],
    out: Annotated[Path, typer.Option("--out", help="Parent folder; the dataset lands in OUT/NAME.")],
    base_url: Annotated[str | None, typer.Option(help="Mirror serving NAME.zip.")] = None,
    md5: Annotated[str | None, typer.Option(help="Expected md5 (required for names BEIR does not list).")] = None,
) -> None:
    """Download a public BEIR dataset zip, check its md5 and unpack it."""
    from synthret_ray.data.download import BEIR_BASE_URL, DownloadError, download_beir

    try:
        path = download_beir(name, out, base_url or BEIR_BASE_URL, md5)
    except DownloadError as exc:
        raise _fail(exc) from None
    console.print(f"{name} -> {path}")


@app.command("train")
def train_command(
    config: ConfigOpt = None,
    stage: Annotated[str | None, typer.Option(help="pairs | distill | align | listwise | reranker.")] = None,
    overrides: Overrides = None,
) -> None:
    """Train a bi-encoder or cross-encoder on Ray Train; exports the best checkpoint as a model folder."""
    from ray.train import TrainingFailedError

    from synthret_ray.training.config import TrainConfig
    from synthret_ray.training.trainer import train

    try:
        cfg = load_config(TrainConfig, config, overrides, values={"stage": stage} if stage else None)
    except USER_ERRORS as exc:
        raise _fail(exc) from None
    _show_config(cfg)
    try:
        result = train(cfg)
    except (*USER_ERRORS, TrainingFailedError) as exc:  # Ray wraps worker errors such as a NaN loss
        raise _fail(exc) from None
    table = Table(title=f"{cfg.stage} training ({result.rows:,} rows, {sum(result.skipped.values())} skipped)")
    for col in TRAIN_COLUMNS:
        table.add_column(col, justify="right")
    for row in result.history:
        table.add_row(*(_fmt(row.get(col)) for col in TRAIN_COLUMNS))
    console.print(table)
    console.print(
        f"best checkpoint {_fmt_metrics(result.best_metrics)} exported to {result.export_dir}", soft_wrap=True
    )


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _fmt_metrics(metrics: dict) -> str:
    return ", ".join(f"{k}={_fmt(metrics[k])}" for k in ("step", "ndcg_at_10", "loss") if k in metrics)


@data_app.command("export-pairs")
def export_pairs_command(
    data_dir: Annotated[str, typer.Argument(help="BEIR folder.")],
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    split: Annotated[str, typer.Option(help="qrels split (never test).")] = "train",
) -> None:
    """Write a BEIR split's judged (query, document) pairs as `pairs` training data."""
    from synthret_ray.training.data import write_pairs_from_beir

    try:
        n = write_pairs_from_beir(data_dir, split, out)
    except USER_ERRORS as exc:
        raise _fail(exc) from None
    console.print(f"{n:,} pairs -> {out}")


@app.command("demo")
def demo_command(
    out_dir: Annotated[Path, typer.Option(help="Where results go.")] = Path("runs/demo"),
    model: Annotated[str, typer.Option(help="Dense encoder.")] = "minilm",
) -> None:
    """Evaluate BM25 and a dense model on the bundled `pydocs` corpus (Python stdlib docs, 71 test queries)."""
    from synthret_ray.evaluation import EvalConfig, run_eval
    from synthret_ray.evaluation.report import print_metrics

    rows = []
    for name, values in (("bm25", {"retriever": "bm25"}), ("dense", {"retriever": "dense", "model": model})):
        cfg = EvalConfig(data=str(DEMO_DATA), out=str(out_dir / f"{name}.json"), **values)
        try:
            rows.append(run_eval(cfg).summary())
        except USER_ERRORS as exc:
            raise _fail(exc) from None
    print_metrics(rows, title=f"pydocs (test), results in {out_dir}", console=console)


if __name__ == "__main__":
    app()
