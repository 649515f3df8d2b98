"""transformers ``generate`` in this process, batched with left padding: for machines vLLM has no build for.

vLLM (``engine.kind=vllm``, the default) is several times faster on CPUs and GPUs, but its CPU build ships only for
Linux on x86_64 and aarch64; this engine runs wherever torch does (macOS, Windows). GGUF checkpoints (the packaged
teachers) load from the plain folder :func:`synthret_ray.models.gguf.materialize_gguf` converts once.
"""

from __future__ import annotations

import time

import torch

from synthret_ray.engines.base import TOP_LOGPROBS, ChatRequest, Completion, choice_probabilities
from synthret_ray.models import resolve_model
from synthret_ray.models.gguf import causal_lm_folder


class LocalEngine:
    """Batched ``generate`` of a local or hub causal LM; prompts longer than the context are cut from the left
    of the last user message's text, and flagged, rather than failing."""

    name = "local"
    per_request_seed = False  # one seed per batched generate() call

    def __init__(
        self, model: str, max_context: int | None = None, device: str | None = None, threads: int | None = None
    ):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        resolved = resolve_model(model)
        source = causal_lm_folder(model)
        if threads:
            torch.set_num_threads(threads)
        self.model = model
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=resolved.local, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.lm = AutoModelForCausalLM.from_pretrained(source, local_files_only=resolved.local).to(self.device).eval()
        limit = getattr(self.lm.config, "max_position_embeddings", None) or 2048
        self.max_context = min(max_context or limit, limit)

    def _prompt_ids(self, request: ChatRequest) -> tuple[list[int], bool]:
        ids = self.tokenizer.apply_chat_template(request.messages, add_generation_prompt=True, tokenize=True)
        if hasattr(ids, "keys"):
            ids = ids["input_ids"]
        budget = self.max_context - request.sampling.max_new_tokens
        if len(ids) <= budget:
            return list(ids), False
        return list(ids[-budget:]), True

    def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        if not requests:
            return []
        sampling = requests[0].sampling
        if any(r.sampling != sampling for r in requests):
            raise ValueError("one generate() call takes requests with the same sampling parameters")
        prompts = [self._prompt_ids(r) for r in requests]
        width = max(len(ids) for ids, _ in prompts)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids, _ in prompts], device=self.device)
        attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids, _ in prompts], device=self.device)
        torch.manual_seed(sampling.seed)
        start = time.perf_counter()
        with torch.inference_mode():
            output = self.lm.generate(
                input_ids=input_ids,
                attention_mask=attention,
                max_new_tokens=sampling.max_new_tokens,
                do_sample=sampling.temperature > 0,
                temperature=sampling.temperature if sampling.temperature > 0 else None,
                top_p=sampling.top_p if sampling.temperature > 0 else None,
                pad_token_id=pad,
                return_dict_in_generate=True,
                output_logits=any(r.choices for r in requests),  # a closed answer's probabilities
            )
        seconds = time.perf_counter() - start  # each request waits for the whole batch
        completions = []
        for row, (ids, truncated) in enumerate(prompts):
            new = output.sequences[row, width:]
            new = new[: _first_stop(new, {pad, self.tokenizer.eos_token_id})]
            text = self.tokenizer.decode(new, skip_special_tokens=True).strip()
            probs = None
            if requests[row].choices and output.logits:
                probs = choice_probabilities(self._top_tokens(output.logits[0][row]), requests[row].choices)
            completions.append(Completion(text, len(ids), len(new), seconds, None, truncated, probs))
        return completions

    def _top_tokens(self, logits: torch.Tensor) -> list[tuple[str, float]]:
        """(token text, log-probability) of the ``TOP_LOGPROBS`` likeliest first tokens (raw logits, as vLLM)."""
        top = torch.topk(torch.log_softmax(logits.float(), dim=-1), TOP_LOGPROBS)
        return [
            (self.tokenizer.decode([i]), v) for v, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        ]


def _first_stop(tokens: torch.Tensor, stops: set[int]) -> int:
    """Length of the generated text: up to the first end-of-sequence or padding token."""
    for index, token in enumerate(tokens.tolist()):
        if token in stops:
            return index
    return len(tokens)
