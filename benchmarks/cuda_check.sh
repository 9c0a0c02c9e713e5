#!/usr/bin/env bash
# The CUDA path, once, on a GPU machine (see README "GPU"): fp16 image extraction against a plain fp32
# loop, then the sweep (per-seed Q-Formers and batched adapters) on cuda, on synthetic features and on
# the offline demo (demo CLIP features in fp16 on the GPU). Each step is bounded; each prints one JSON line.
# Usage (from the repository root, with fewshot_core importable): bash benchmarks/cuda_check.sh [CACHE_DIR]
set -uo pipefail
cache=${1:-/tmp/fewshot-cuda-check}
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))"
timeout 60 python3 benchmarks/bench_features.py --device cuda --images 512 | tail -1
for dataset in synthetic demo; do
  SECONDS=0
  timeout 90 python3 -m fewshot_core reproduce --dataset "$dataset" --device cuda --seeds 2 --shots 1 4 15 --cache "$cache" --json > "$cache-$dataset.txt" 2>&1
  rc=$?
  echo "{\"step\": \"reproduce $dataset --device cuda --seeds 2 --shots 1 4 15\", \"rc\": $rc, \"seconds\": $SECONDS}"
  tail -1 "$cache-$dataset.txt"
done
