#!/usr/bin/env bash
# The prepared GPU run for issue 5, for a machine lent through the device tool (or any CUDA box with
# PyTorch, h5py, Pillow, tqdm and matplotlib installed; helpers is imported from this checkout).
#   bash benchmarks/gpu_check.sh            # about 6-9 minutes on an H100; results in $OUT (or benchmarks/)
# It checks the CUDA path end to end (the CLI at 512 px, fp32 and bf16), then runs the benchmark with
# the GPU switches (cudnn.benchmark, TF32, bf16, channels_last, torch.compile) one by one, and the
# lean loop with and without a CUDA graph (the floor for helpers' loop).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 NST_BACKBONE=vgg19-random
out="${OUT:-benchmarks}"
python3 -c "import torch; print('torch', torch.__version__, '|', torch.cuda.get_device_name(), '| bf16:', torch.cuda.is_bf16_supported())"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv || true
for precision in fp32 bf16; do
  python3 -m helpers chelsea swirls -o "$out/cuda-$precision.png" --size 512 --steps 100 --precision "$precision" --quiet
done
python3 benchmarks/benchmark.py --device cuda --backbones vgg19-random --json "$out/results-cuda.json" 2>&1 \
  | tee "$out/benchmark-cuda.log"
