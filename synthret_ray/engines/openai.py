"""Any OpenAI-compatible chat endpoint: hosted APIs, ``vllm serve``, llama.cpp's server, ``transformers serve``.

Ray's own ``HttpRequestProcessorConfig`` stage has no per-request timeout, no concurrency bound and raises once its
retries run out; synthesis needs a failed request to become a counted row, so this client is a thread pool over
``requests`` with a rate limit, timeouts and exponential backoff on 429 / 5xx / connection errors.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from requests.adapters import HTTPAdapter

from synthret_ray.engines.base import ChatRequest, Completion, EngineError

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class RateLimiter:
    """At most ``qps`` calls to ``wait()`` start per second, across threads."""

    def __init__(self, qps: float | None):
        self.interval = 1.0 / qps if qps else 0.0
        self.next_slot = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
        time.sleep(max(0.0, slot - now))


class OpenAIEngine:
    name = "openai"
    per_request_seed = True

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = None,
        qps: float | None = None,
        concurrency: int = 4,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        structured_output: bool = False,
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.headers = {"Content-Type": "application/json"}
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise EngineError(f"engine.api_key_env: environment variable {api_key_env} is not set or empty")
            self.headers["Authorization"] = f"Bearer {key}"
        self.limiter = RateLimiter(qps)
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.structured_output = structured_output
        self.session = requests.Session()
        self.session.mount(self.base_url, HTTPAdapter(pool_connections=1, pool_maxsize=concurrency))

    def check(self) -> None:
        """Fail fast, before any row is scheduled, when the endpoint cannot be reached or refuses the key."""
        url = f"{self.base_url}/models"
        try:
            response = self.session.get(url, headers=self.headers, timeout=min(self.timeout_s, 30))
        except requests.RequestException as exc:
            raise EngineError(f"engine.base_url: cannot reach {url}: {type(exc).__name__}: {exc}") from None
        if response.status_code in (401, 403):
            raise EngineError(f"engine.api_key_env: {url} refused the API key (HTTP {response.status_code})")

    def generate(self, requests_: list[ChatRequest]) -> list[Completion]:
        if not requests_:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests_))) as pool:
            return list(pool.map(self._one, requests_))

    def _payload(self, request: ChatRequest) -> dict:
        s = request.sampling
        payload = {
            "model": self.model,
            "messages": request.messages,
            "max_tokens": s.max_new_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "seed": s.seed,
        }
        if self.structured_output and request.choices:
            schema = choice_schema(request.choices)
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": True},
            }
            # The whole JSON object must fit: a budget sized for the bare word would cut it (`{"answer": "`).
            longest = max(request.choices, key=lambda c: len(c.encode("utf-8")))
            payload["max_tokens"] = max(s.max_new_tokens, len(json.dumps({"answer": longest}).encode("utf-8")) + 8)
        return payload

    def _one(self, request: ChatRequest) -> Completion:
        payload = self._payload(request)
        start = time.perf_counter()
        error, retry_after = "no attempt made", None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self._delay(attempt, retry_after))
            retry_after = None
            self.limiter.wait()
            try:
                response = self.session.post(
                    f"{self.base_url}/chat/completions", json=payload, headers=self.headers, timeout=self.timeout_s
                )
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in RETRY_STATUS:
                error = f"HTTP {response.status_code}: {response.text[:200]}"
                retry_after = response.headers.get("Retry-After")
                continue
            if response.status_code != 200:  # 400, 404...: the same request would fail again
                return Completion(
                    "",
                    seconds=time.perf_counter() - start,
                    error=f"HTTP {response.status_code}: {response.text[:200]}",
                )
            return _completion(response, time.perf_counter() - start)
        return Completion("", seconds=time.perf_counter() - start, error=f"gave up after {attempt + 1} tries: {error}")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return float(retry_after)
            except ValueError:
                pass
        return self.backoff_s * 2 ** (attempt - 1) * (1 + 0.1 * random.random())


def choice_schema(choices: tuple[str, ...]) -> dict:
    """JSON schema of ``{"answer": <one of choices>}``: OpenAI-style servers take a schema, not a choice list."""
    return {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": list(choices)}},
        "required": ["answer"],
        "additionalProperties": False,
    }


def _completion(response: requests.Response, seconds: float) -> Completion:
    try:
        body = response.json()
        text = body["choices"][0]["message"]["content"] or ""
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return Completion(
            "", seconds=seconds, error=f"unreadable response ({type(exc).__name__}): {response.text[:200]}"
        )
    usage = body.get("usage") or {}
    return Completion(
        text.strip(),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        seconds=seconds,
        error=None,
    )
