"""The openai engine against a real OpenAI-compatible server (`transformers serve` with the packaged SmolLM2,
started on 127.0.0.1 by the test), plus its retry, timeout and error handling against a scripted HTTP server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from synthret_ray.engines import ChatRequest, EngineError, SamplingParams
from synthret_ray.engines.openai import OpenAIEngine, choice_schema
from synthret_ray.synthesis import queries
from tests.conftest import run_synthret

PASSAGE = "The Great Barrier Reef, off Queensland, is the largest coral reef system in the world."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def smollm2_folder() -> str:
    from synthret_ray.models import resolve_model
    from synthret_ray.models.gguf import materialize_gguf

    resolved = resolve_model("smollm2")
    return str(materialize_gguf(resolved.source, resolved.gguf_file))


@pytest.fixture(scope="module")
def served(smollm2_folder):
    """`transformers serve` on a free local port; yields its base URL and model name."""
    port = free_port()
    cli = Path(sys.executable).with_name("transformers")
    log = open(Path(smollm2_folder).parent / f"serve-{port}.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [str(cli), "serve", smollm2_folder, "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        assert server.poll() is None, f"transformers serve exited: see {log.name}"
        try:
            if requests.get(f"{base}/health", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.5)
    yield f"{base}/v1", smollm2_folder
    server.terminate()
    server.wait(30)
    log.close()


@pytest.mark.slow
def test_real_server_gives_the_local_engines_greedy_text_and_token_counts(served):
    from synthret_ray.engines.local import LocalEngine

    base_url, model = served
    engine = OpenAIEngine(base_url, model, concurrency=2)
    engine.check()
    sampling = SamplingParams(max_new_tokens=12)
    request = queries.build_request(PASSAGE, sampling)
    (remote,) = engine.generate([request])
    assert remote.error is None, remote.error
    assert remote.prompt_tokens > 50 and 0 < remote.completion_tokens <= 12
    (local,) = LocalEngine(model, device="cpu").generate([request])
    assert remote.text == local.text


@pytest.mark.slow
def test_pipeline_runs_through_the_real_server(served, ray_local, tmp_path):
    from synthret_ray.synthesis.config import SynthesisConfig
    from synthret_ray.synthesis.pipeline import synthesize
    from synthret_ray.synthesis.store import RunStore
    from tests.conftest import write_beir

    base_url, model = served
    data = write_beir(tmp_path / "data", split="train")
    cfg = SynthesisConfig(
        task="queries",
        input={"data": str(data), "limit": 3},
        output_dir=str(tmp_path / "run"),
        engine={"kind": "openai", "base_url": base_url, "model": model, "concurrency": 2, "qps": 20},
        sampling={"max_new_tokens": 12},
        progress=False,
    )
    result = synthesize(cfg)
    rows = RunStore(cfg.output_dir).read_rows()
    assert len(rows) == 3 and all(r["status"] != "error" for r in rows)
    assert all(r["engine"] == "openai" and r["completion_tokens"] > 0 for r in rows)
    assert result.stats["this_run"]["workers"] and next(iter(result.stats["this_run"]["workers"])).startswith(
        "openai@"
    )


def test_unreachable_endpoint_fails_before_any_row(tmp_path):
    engine = OpenAIEngine(f"http://127.0.0.1:{free_port()}/v1", "m", timeout_s=2)
    with pytest.raises(EngineError, match="engine.base_url: cannot reach http://127.0.0.1"):
        engine.check()
    port = free_port()
    out = run_synthret(
        "synthesize",
        "--task",
        "queries",
        "--out",
        str(tmp_path / "r"),
        "input.data=unused",
        "engine.kind=openai",
        f"engine.base_url=http://127.0.0.1:{port}/v1",
        "engine.model=m",
        timeout=120,
    )
    assert out.returncode == 2 and "cannot reach" in out.stderr and not (tmp_path / "r").exists()


def test_missing_api_key_variable_is_named():
    os.environ.pop("SYNTHRET_TEST_KEY", None)
    with pytest.raises(EngineError, match="SYNTHRET_TEST_KEY is not set"):
        OpenAIEngine("http://127.0.0.1:1/v1", "m", api_key_env="SYNTHRET_TEST_KEY")


class Scripted(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions from a script of (status, body, headers) per call, then repeats the last."""

    script: list[tuple[int, str, dict]] = []
    calls: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append({"body": body, "auth": self.headers.get("Authorization")})
        status, text, headers = self.script[min(len(self.calls) - 1, len(self.script) - 1)]
        if status == 0:  # hang longer than the client's timeout
            time.sleep(1.5)
            status = 200
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(text.encode())

    def log_message(self, *args):
        pass


OK_BODY = json.dumps(
    {"choices": [{"message": {"content": " hello "}}], "usage": {"prompt_tokens": 7, "completion_tokens": 2}}
)


@pytest.fixture
def scripted():
    Scripted.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def request(choices=None) -> ChatRequest:
    return ChatRequest([{"role": "user", "content": "hi"}], SamplingParams(max_new_tokens=5, seed=3), choices)


def test_retries_429_and_5xx_with_backoff_then_succeeds(scripted, monkeypatch):
    monkeypatch.setenv("SYNTHRET_TEST_KEY", "sk-test")
    Scripted.script = [(429, "slow down", {"Retry-After": "0"}), (503, "busy", {}), (200, OK_BODY, {})]
    engine = OpenAIEngine(scripted, "m", api_key_env="SYNTHRET_TEST_KEY", backoff_s=0.01, structured_output=True)
    (out,) = engine.generate([request(("yes", "no"))])
    assert (out.text, out.prompt_tokens, out.completion_tokens, out.error) == ("hello", 7, 2, None)
    assert len(Scripted.calls) == 3
    sent = Scripted.calls[-1]
    assert sent["auth"] == "Bearer sk-test"
    assert sent["body"]["seed"] == 3 and sent["body"]["model"] == "m"
    assert sent["body"]["response_format"]["json_schema"]["schema"] == choice_schema(("yes", "no"))
    # the whole JSON object fits: 5 tokens would cut it at `{"answer": "`
    assert sent["body"]["max_tokens"] >= len('{"answer": "yes"}')


@pytest.mark.parametrize(
    ("script", "calls", "error"),
    [
        ([(500, "boom", {})], 3, "gave up after 3 tries: HTTP 500: boom"),
        ([(400, "bad request", {})], 1, "HTTP 400: bad request"),
        ([(200, "<html>not json</html>", {})], 1, "unreadable response"),
        ([(0, OK_BODY, {})], 3, "gave up after 3 tries: ReadTimeout"),
    ],
)
def test_failures_become_completion_errors_not_exceptions(scripted, script, calls, error):
    Scripted.script = script
    engine = OpenAIEngine(scripted, "m", max_retries=2, backoff_s=0.01, timeout_s=0.5)
    outs = engine.generate([request()])
    assert outs[0].text == "" and outs[0].error.startswith(error)
    assert len(Scripted.calls) == calls


def test_qps_limits_request_starts(scripted):
    Scripted.script = [(200, OK_BODY, {})]
    engine = OpenAIEngine(scripted, "m", qps=10, concurrency=4)
    start = time.perf_counter()
    outs = engine.generate([request() for _ in range(6)])
    assert all(o.error is None for o in outs)
    assert time.perf_counter() - start >= 0.5  # 6 starts at 10/s need at least 5 intervals
