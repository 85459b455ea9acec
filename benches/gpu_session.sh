#!/bin/bash
# The H200 measurements of issue 6 in one device call (see ../shared/GPU.md). Here, first:
#   cargo build --release && mkdir -p .gpu && cp target/release/featuremap .gpu/
#   (optional) cp target/release/deps/cam-<hash> .gpu/cam-bench   # Score-CAM against the package
#   (optional) cp target/release/deps/kernels-<hash> .gpu/kernels-bench   # every tile shape, per layer
# then call the device's `run` with carry [".gl", ".gpu"] and the command
#   bash benches/gpu_session.sh
# It exports ResNet-18/50 with torchvision there, times featuremap (f32 and f16 storage,
# forward and Grad-CAM, batch 1 and 32) and PyTorch (TF32 off and on, pytorch-grad-cam's
# Grad-CAM written out where the package is missing), writes everything to $OUT/results.jsonl
# and $OUT/log.txt, and prints a summary table last. ITERS, BATCHES, FEATUREMAP, PY, MODELS
# override the defaults (a smoke run on a CPU machine: ITERS=1 BATCHES=1 TORCH_DEVICE=).
set -u
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
LOG="$OUT/log.txt"
RES="$OUT/results.jsonl"
: > "$RES"
if ls .gl/*.deb > /dev/null 2>&1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
fi
B=${FEATUREMAP:-.gpu/featuremap}
PY=${PY:-python3}
MODELS=${MODELS:-/tmp/featuremap-models}
export PYTHONUNBUFFERED=1 XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/featuremap-cache}

record() { # name, then a command printing one JSON object (kept on one line)
    local name=$1; shift
    local json
    if json=$(set -o pipefail; "$@" 2>> "$LOG" | $PY -c 'import json, sys; print(json.dumps(json.load(sys.stdin)))'); then
        printf '{"name": "%s", "result": %s}\n' "$name" "$json" >> "$RES"
    else
        echo "FAILED: $name: $*" | tee -a "$LOG"
    fi
}

{ nvidia-smi || true; $B info; } >> "$LOG" 2>&1
record ceiling $B bench --ceiling --json
$PY tests/fixtures/make_onnx_models.py resnet18 resnet50 --out "$MODELS" >> "$LOG" 2>&1
ITERS=${ITERS:-20}
BATCHES=${BATCHES:-1 32}
CAM50=/layer4/layer4.2/relu_2/Relu_output_0
CAM18=/layer4/layer4.1/relu_1/Relu_output_0
for batch in $BATCHES; do
    for storage in "" "--f16"; do
        record "resnet50 b$batch ${storage:-f32}" $B bench "$MODELS/resnet50.onnx" --batch $batch --iters $ITERS --cam $CAM50 --json $storage
    done
done
record "resnet18 b1 f32" $B bench "$MODELS/resnet18.onnx" --iters $ITERS --cam $CAM18 --json
record "torch fp32" $PY benches/torch_compare.py ${TORCH_DEVICE---cuda} --runs $ITERS --only resnet
record "torch tf32" $PY benches/torch_compare.py ${TORCH_DEVICE---cuda} --tf32 --runs $ITERS --only resnet
if [ -x .gpu/kernels-bench ]; then
    # The tiled kernel's seven tile shapes on ResNet-50's layers (the table autotune chooses from).
    FEATUREMAP_BENCH_KERNELS=tiled FEATUREMAP_BENCH_TILES=all FEATUREMAP_BENCH_PASSES=forward \
        FEATUREMAP_BENCH_LAYERS=resnet50 .gpu/kernels-bench --bench >> "$LOG" 2>&1
fi
if [ -x .gpu/cam-bench ]; then
    FEATUREMAP_BENCH_BATCHES=1 FEATUREMAP_FULL_SCORECAM=1 .gpu/cam-bench --bench >> "$LOG" 2>&1
fi
$PY - "$RES" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ours = {r["name"]: r["result"] for r in rows if "forward_ms_median" in r["result"]}
torch = {r["name"]: {c["case"]: c["ms"] for c in r["result"]["cases"]} for r in rows if "cases" in r["result"]}
print("| case | featuremap ms | PyTorch fp32 ms | PyTorch tf32 ms |")
print("|---|---|---|---|")
for batch in (1, 32):
    for what, key in (("forward", "forward_ms_median"), ("gradcam", "cam_ms_median")):
        t = [next((ms for case, ms in torch.get(n, {}).items() if case.startswith(f"resnet50 {what if what == 'gradcam' else 'forward'} batch {batch}")), None) for n in ("torch fp32", "torch tf32")]
        for storage in ("f32", "--f16"):
            r = ours.get(f"resnet50 b{batch} {storage}", {})
            print(f"| resnet50 {what} batch {batch} {storage} | {r.get(key)} | {t[0]} | {t[1]} |")
PYEOF
