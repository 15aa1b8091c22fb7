"""Install with the Makefile (`make test` / `make demo`), which applies requirements/constraints.txt so that
only the CPU torch wheel can be chosen. Dependencies are listed in requirements/, not here, because
colossalai and mmengine must be installed with --no-deps (see README, "Install")."""
from setuptools import find_packages, setup

setup(
    name="opensora-pavdm",
    version="0.1.0",
    description="Progressive autoregressive long-video diffusion on Open-Sora v1.2",
    # tools/ too, so that `python -m tools.synthetic.generate` / `-m tools.eval.evaluate` work from any folder
    packages=find_packages(include=["opensora", "opensora.*", "tools", "tools.*"]),
    python_requires=">=3.10",
    install_requires=[],
    extras_require={"gpu": ["xformers==0.0.35", "flash-attn==2.8.3.post2"]},
    # the same commands as `python scripts/inference.py` and `torchrun scripts/train.py`
    entry_points={"console_scripts": ["pavdm-infer=opensora.sampling.cli:cli",
                                      "pavdm-train=opensora.training.cli:cli"]},
)
