"""``synthret data validate DIR``: every problem of a BEIR folder, with file and line, in one pass."""

from __future__ import annotations

from dataclasses import dataclass, field

from synthret_ray.data import fs
from synthret_ray.data.beir import Problem, available_splits, scan_jsonl, scan_qrels

MAX_REPORTED_PER_FILE = 50


@dataclass
class ValidationReport:
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0  # problems past MAX_REPORTED_PER_FILE in one file: counted, not listed
    suppressed_errors: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.suppressed_errors

    def add(self, problem: Problem, per_file: dict[str, int]) -> None:
        per_file[problem.path] = per_file.get(problem.path, 0) + 1
        if per_file[problem.path] <= MAX_REPORTED_PER_FILE:
            self.problems.append(problem)
        else:
            self.suppressed += 1
            self.suppressed_errors += problem.severity == "error"


def validate_beir(data_dir: str) -> ValidationReport:
    """Check a BEIR folder: JSON, ids, texts, encoding, qrels header, scores and id references."""
    report = ValidationReport()
    per_file: dict[str, int] = {}
    if not fs.is_dir(data_dir):
        report.add(Problem(str(data_dir), None, None, "not a directory"), per_file)
        return report

    ids: dict[str, set[str]] = {}
    for kind, name in (("corpus", "corpus.jsonl"), ("queries", "queries.jsonl")):
        path = fs.join(data_dir, name)
        ids[kind] = set()
        if not fs.exists(path):
            report.add(Problem(path, None, None, "file not found"), per_file)
            continue
        for _, record, problem in scan_jsonl(path, kind):
            if problem is not None:
                report.add(problem, per_file)
            if record is not None:
                ids[kind].add(record["_id"])
        report.counts[kind] = len(ids[kind])

    splits = available_splits(data_dir) if fs.is_dir(fs.join(data_dir, "qrels")) else []
    if not splits:
        report.add(Problem(fs.join(data_dir, "qrels"), None, None, "no qrels/<split>.tsv file found"), per_file)
    for split in splits:
        path = fs.join(data_dir, "qrels", f"{split}.tsv")
        pairs: dict[tuple[str, str], int] = {}
        queries_judged: set[str] = set()
        for lineno, row, problem in scan_qrels(path):
            if problem is not None:
                report.add(problem, per_file)
            if row is None:
                continue
            qid, did, _ = row
            if ids["queries"] and qid not in ids["queries"]:
                report.add(Problem(path, lineno, "query-id", f"unknown query id {qid!r}"), per_file)
            if ids["corpus"] and did not in ids["corpus"]:
                report.add(Problem(path, lineno, "corpus-id", f"unknown document id {did!r}"), per_file)
            if (qid, did) in pairs:
                msg = f"pair ({qid!r}, {did!r}) judged again (first on line {pairs[(qid, did)]}); the last one wins"
                report.add(Problem(path, lineno, None, msg, "warning"), per_file)
            pairs.setdefault((qid, did), lineno)
            queries_judged.add(qid)
        report.counts[f"qrels/{split} rows"] = len(pairs)
        report.counts[f"qrels/{split} queries"] = len(queries_judged)
    return report
