import json

import pytest
import torch

from synthret_ray.training.merge import MERGE_FILE, interpolate_state, merge_biencoders
from tests.conftest import run_synthret


def test_interpolation_by_hand():
    start = {"w": torch.tensor([0.0, 2.0]), "ids": torch.tensor([0, 1])}
    tuned = {"w": torch.tensor([2.0, 4.0]), "ids": torch.tensor([0, 1])}
    merged = interpolate_state(start, tuned, 0.25)
    # 0.75 * [0, 2] + 0.25 * [2, 4] = [0.5, 2.5]
    assert torch.allclose(merged["w"], torch.tensor([0.5, 2.5]))
    assert torch.equal(merged["ids"], tuned["ids"])
    assert torch.equal(interpolate_state(start, tuned, 0.0)["w"], start["w"])
    assert torch.equal(interpolate_state(start, tuned, 1.0)["w"], tuned["w"])


@pytest.mark.parametrize(
    ("start", "weight", "message"),
    [
        ({"w": torch.zeros(2)}, 1.5, r"in \[0, 1\]"),
        ({"v": torch.zeros(2)}, 0.5, "different parameters"),
        ({"w": torch.zeros(3)}, 0.5, "parameter 'w': shape"),
    ],
)
def test_models_that_cannot_be_interpolated_are_refused(start, weight, message):
    with pytest.raises(ValueError, match=message):
        interpolate_state(start, {"w": torch.ones(2)}, weight)


def test_differing_integer_buffers_are_refused():
    with pytest.raises(ValueError, match="'ids' is not floating point"):
        interpolate_state({"ids": torch.tensor([0, 1])}, {"ids": torch.tensor([1, 0])}, 0.5)


@pytest.mark.slow
def test_merged_minilm_lies_between_its_parents_and_keeps_the_tuned_prompts(tmp_path, minilm_path):
    from sentence_transformers import SentenceTransformer

    tuned = SentenceTransformer(minilm_path, device="cpu")
    with torch.no_grad():
        for p in tuned.parameters():
            p.add_(0.01)
    tuned.prompts = {"query": "query: ", "document": "passage: "}
    tuned.save(str(tmp_path / "tuned"))

    out = merge_biencoders("minilm", str(tmp_path / "tuned"), 0.5, tmp_path / "merged")
    merged = SentenceTransformer(str(out), device="cpu")
    start = SentenceTransformer(minilm_path, device="cpu")
    name, param = next(iter(merged.named_parameters()))
    assert torch.allclose(param, dict(start.named_parameters())[name] + 0.005, atol=1e-6)
    assert merged.prompts["query"] == "query: "
    assert json.loads((out / MERGE_FILE).read_text())["weight"] == 0.5
    text = ["how do plants turn sunlight into sugar"]
    embeddings = [m.encode(text, convert_to_tensor=True) for m in (start, merged, tuned)]
    assert not torch.allclose(embeddings[0], embeddings[1]) and not torch.allclose(embeddings[1], embeddings[2])


@pytest.mark.slow
def test_the_cli_refuses_a_cross_encoder_merged_with_a_bi_encoder(tmp_path, cross_encoder_dir):
    result = run_synthret(
        "merge", "--tuned", str(cross_encoder_dir), "--start", "minilm", "--out", str(tmp_path / "m")
    )
    assert result.returncode == 2
    assert "tuned model" in result.stderr and "is a CrossEncoder" in result.stderr
    assert not (tmp_path / "m").exists()
