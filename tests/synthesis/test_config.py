from __future__ import annotations


def test_fingerprint_ignores_fields_the_task_never_reads():
    from synthret_ray.synthesis.config import SynthesisConfig

    def config(task, **extra):
        queries = {} if task == "queries" else {"queries": "train"}
        return SynthesisConfig(task=task, input={"data": "d", **queries}, output_dir="o", **extra)

    # distill's negatives and graded's levels do not touch a queries run, nor a label run's candidates
    assert config("queries").fingerprint() == config("queries", negatives=5, levels=[3, 0]).fingerprint()
    assert config("distill").fingerprint() == config("distill", candidates={"k": 3}).fingerprint()
    # the fields the task reads do
    assert config("distill").fingerprint() != config("distill", negatives=5).fingerprint()
    assert config("label").fingerprint() != config("label", candidates={"k": 3}).fingerprint()
    assert "negatives" not in config("queries").relevant() and "negatives" in config("distill").relevant()
