#!/usr/bin/env bash
# The whole GPU check for one lent device session, in one command that ends inside 10 minutes:
#   run(command="bash bench/gpu_session.sh", timeout_s=600)
# 1. the tiny checkpoint on CUDA: the product path's captured decode step against transformers'
#    generate() on the same card (seconds; a FAIL here makes the full run pointless);
# 2. the full-size table (bf16, 30 s audio, 100 new tokens), stopped after a time budget so
#    that its bf16-vs-fp32 greedy check still runs.
# Everything is kept in $OUT (or /tmp/gpu-session elsewhere).
set -uo pipefail
out=${OUT:-/tmp/gpu-session}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi >"$out/nvidia-smi.txt" 2>&1
python3 bench/gpu_throughput.py --tiny --device cuda --batch-sizes 1 8 64 --seconds 10 \
    --new-tokens 40 --check-seconds 5 30 2>&1 | tee "$out/tiny-cuda.txt"
timeout 500 python3 bench/gpu_throughput.py --budget 330 2>&1 | tee "$out/gpu-throughput.txt"
