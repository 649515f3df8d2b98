from __future__ import annotations

import importlib
import pkgutil

import pytest

import synthret_ray

MODULES = sorted(m.name for m in pkgutil.walk_packages(synthret_ray.__path__, "synthret_ray."))


def test_every_module_is_found():
    assert {"synthret_ray.cli", "synthret_ray.evaluation.metrics", "synthret_ray.data.validate"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name):
    importlib.import_module(name)
