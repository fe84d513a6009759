#!/usr/bin/env bash
# The one command a session with a lent GPU runs (device tool: carry [".whl"], timeout_s 600):
#   bash bench/gpu_run.sh
# after `bash bench/gpu_wheels.sh` here. Logs land in $OUT (or ./gpu-logs): the smoke check of every
# GPU-only setting, then the SR and Wan benchmarks, each under its own time limit so one overrun
# cannot eat the others' time. Copy the figures into BENCHMARKS.md with date, GPU and command.
set -uo pipefail
cd "$(dirname "$0")/.."
logs=${OUT:-gpu-logs}
mkdir -p "$logs"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$logs/gpu.txt"
python3 -c "import torch, diffusers, transformers, spandrel, av, pydantic_settings, ftfy; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'transformers', transformers.__version__)" || exit 1
cd bench
timeout 130 python3 gpu_smoke.py 2>&1 | grep -v "it/s\]" | tee "$logs/smoke.log"
timeout 170 python3 bench_sr_upscale.py --compile 2>&1 | tee "$logs/sr_x4plus.log"
timeout 240 python3 bench_wan_vace.py --steps 10 --variants baseline,ours 2>&1 | tee "$logs/wan_vace.log"
