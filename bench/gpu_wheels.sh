#!/usr/bin/env bash
# Download, here, the wheels the GPU machine lacks for bench/gpu_run.sh (its image has torch,
# transformers, accelerate, safetensors, opencv, numpy but not these). Python 3.12 there; ~47 MB,
# under the device tool's 64 MiB working-tree limit (imageio-ffmpeg, 68 MB, stays behind: the GPU
# benchmarks make their clips with PyAV). .whl/ is git-ignored through .git/info/exclude.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
  diffusers==0.42.1 spandrel==0.4.2 av==18.1.0 ftfy==6.3.1 wcwidth==0.9.4 importlib-metadata==10.2.0 \
  pydantic==2.14.4 pydantic-core==2.50.5 pydantic-settings==2.16.3 python-dotenv==1.2.4 \
  annotated-types==0.8.0 typing-inspection==0.4.5
du -sh .whl
