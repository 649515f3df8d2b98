"""Entry point for the cluster launcher, which runs a script on the head node:

    ray up cluster/aws-gpu.yaml
    ray submit cluster/aws-gpu.yaml cluster/run_recipe.py run --config configs/recipes/syntriever_gpu_vllm.yaml

Arguments are those of the ``synthret`` command.
"""

from synthret_ray.cli import app

if __name__ == "__main__":
    app()
