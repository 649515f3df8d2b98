"""The launch files of ``cluster/``, checked with the parsers that read them on a real cluster.

No cluster runs here: the autoscaler config goes through Ray's own schema (what ``ray up`` validates), the runtime
environments through ``ray.runtime_env.RuntimeEnv``, and every file is held to the Ray version and the
dependencies this package pins, since a drift there only shows once nodes are paid for.
"""

from __future__ import annotations

import copy
import re
from importlib.metadata import requires
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from ray.autoscaler._private.util import prepare_config, validate_config
from ray.runtime_env import RuntimeEnv

from synthret_ray.config import load_config
from synthret_ray.pipeline import RecipeConfig

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "cluster"
# pyproject.toml's dependencies as installed: the base ones and those of the gpu and faiss-gpu extras.
REQUIREMENTS = [Requirement(r) for r in requires("synthret-ray")]
BASE = [r for r in REQUIREMENTS if r.marker is None]
GPU = [
    r
    for r in REQUIREMENTS
    if r.marker is not None and any(r.marker.evaluate({"extra": extra}) for extra in ("gpu", "faiss-gpu"))
]
# Distributions a cluster image or another entry already brings: Ray is the image's own (a runtime env must not
# reinstall it), vllm pins its torch, and faiss-gpu-cu12 stands in for faiss-cpu on GPU nodes.
NOT_IN_RUNTIME_ENV = {"ray", "torch", "faiss-cpu"}


def _yaml(name: str) -> dict:
    return yaml.safe_load((CLUSTER / name).read_text())


def _documents() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(CLUSTER.iterdir()) if p.suffix in {".yaml", ".py"}}


def _names(requirements: list[Requirement]) -> dict[str, str]:
    return {canonicalize_name(r.name): str(r.specifier) for r in requirements}


def test_autoscaler_config_passes_rays_schema():
    config = _yaml("aws-gpu.yaml")
    validate_config(prepare_config(copy.deepcopy(config)))  # as `ray up` does
    broken = copy.deepcopy(config)
    broken["available_node_types"]["gpu_worker"]["node_confg"] = {}  # a typo the schema must catch
    with pytest.raises(jsonschema.ValidationError, match="node_confg"):
        validate_config(prepare_config(broken))


def test_images_and_ray_versions_match_the_pinned_ray():
    # rayproject/ray-ml is deprecated since Ray 2.31 and no longer published: it has no tag for this Ray.
    images = {(name, m) for name, text in _documents().items() for m in re.findall(r"image:\s*(\S+)", text)}
    assert images, "no container image named under cluster/"
    for name, image in images:
        assert image.startswith(f"rayproject/ray:{ray.__version__}-"), f"{name}: image {image}"
    for name in ("kuberay-raycluster.yaml", "kuberay-rayjob.yaml"):
        spec = _yaml(name)["spec"]
        spec = spec.get("rayClusterSpec", spec)
        assert spec["rayVersion"] == ray.__version__, f"{name}: rayVersion"
    assert next(r for r in BASE if canonicalize_name(r.name) == "ray").specifier.contains(ray.__version__)


def test_runtime_env_installs_what_the_package_needs_on_gpu_nodes():
    env = RuntimeEnv(**_yaml("runtime_env.yaml"))  # Ray's own validation of the file
    pip = _names([Requirement(r) for r in env.pip_config()["packages"]])
    wanted = _names(BASE + GPU)
    for name in NOT_IN_RUNTIME_ENV:
        wanted.pop(name, None)
    assert pip == wanted, "cluster/runtime_env.yaml pip differs from pyproject.toml's dependencies + gpu extra"
    # The RayJob carries its runtime env inline (KubeRay takes no file): the same pip list.
    job = RuntimeEnv(**yaml.safe_load(_yaml("kuberay-rayjob.yaml")["spec"]["runtimeEnvYAML"]))
    assert job.pip_config()["packages"] == env.pip_config()["packages"]
    assert job.env_vars() == env.env_vars()


def test_recipe_configs_named_by_the_launch_files_exist_and_load():
    named = {m for text in _documents().values() for m in re.findall(r"configs/\S+?\.yaml", text)}
    assert named
    for path in sorted(named):
        assert (REPO / path).is_file(), path
        load_config(RecipeConfig, REPO / path)
