#!/usr/bin/env bash
# The CUDA path, once, on a GPU machine (see README "GPU"): fp16 image extraction against a plain fp32
# loop, then the sweep (per-seed Q-Formers and batched adapters) on cuda, on synthetic features and on
# the offline demo (demo CLIP features in fp16 on the GPU), then the Ray executor with GPU tasks and a
# GPU actor (needs ray[data]: the test extra). Each step is bounded; each prints one JSON line.
# Usage (from the repository root, with fewshot_core importable): bash benchmarks/cuda_check.sh [CACHE_DIR]
set -uo pipefail
cache=${1:-/tmp/fewshot-cuda-check}
mkdir -p "$cache"
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))"
timeout 60 python3 benchmarks/bench_features.py --device cuda --images 512 | tail -1
step() {  # step NAME TIMEOUT ARGS...: run `python -m fewshot_core ARGS`, print its status line and its last line
  local name=$1 limit=$2
  shift 2
  SECONDS=0
  timeout "$limit" python3 -m fewshot_core "$@" > "$cache/$name.txt" 2>&1
  local rc=$?
  echo "{\"step\": \"$name: $*\", \"rc\": $rc, \"seconds\": $SECONDS}"
  tail -1 "$cache/$name.txt"
}
for dataset in synthetic demo; do
  step "$dataset" 90 reproduce --dataset "$dataset" --device cuda --seeds 2 --shots 1 4 15 --cache "$cache" --json
done
# Ray: a local instance sees the GPU; units become GPU tasks, extraction a GPU actor (fresh cache: no hits)
step ray-sweep 120 reproduce --dataset synthetic --device cuda --seeds 2 --shots 1 4 15 --cache "$cache/ray" --json --executor ray
step ray-features 120 features --dataset demo --device cuda --cache "$cache/ray" --executor ray
