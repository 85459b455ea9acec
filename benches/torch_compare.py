#!/usr/bin/env python3
"""Times PyTorch on the same layers and models as featuremap's benchmarks, on this machine, so
that every claim is a ratio from one run on one machine.

    /opt/torchenv/bin/python benches/torch_compare.py            # CPU (all cores)
    /opt/torchenv/bin/python benches/torch_compare.py --cuda     # GPU, timed with CUDA events

Prints one JSON object: the torch version, the device, the thread count, and per case the
median milliseconds over `--runs` runs after warm-up:
- conv2d 3x3 forward, input gradient and weight gradient on the ResNet-18 shapes at batch 1 and
  the demo model's shapes at batch 32 (the rows of `cargo bench --bench kernels`);
- ResNet-18 forward at 224x224, batch 1 and 8 (torchvision, random weights, eval mode, batch norm
  left as is; `cargo bench --bench cam` runs the same shapes with batch norm folded);
- Grad-CAM with pytorch-grad-cam on ResNet-18 layer4 for the top-1 class, batch 1, if the
  package is installed.
With --cuda, TF32 is off unless --tf32 is given.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

SHAPES = [
    ("resnet18 64x56x56", (1, 64, 56, 56), 64),
    ("resnet18 128x28x28", (1, 128, 28, 28), 128),
    ("resnet18 256x14x14", (1, 256, 14, 14), 256),
    ("resnet18 512x7x7", (1, 512, 7, 7), 512),
    ("demo stage1 3->16 @64, batch 32", (32, 3, 64, 64), 16),
    ("demo stage2 16->32 @32, batch 32", (32, 16, 32, 32), 32),
    ("demo stage3 32->64 @16, batch 32", (32, 32, 16, 16), 64),
    ("demo stage4 64->128 @8, batch 32", (32, 64, 8, 8), 128),
]


def timer(device, runs, warmup):
    def run(fn):
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(runs):
            if device.type == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)

    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cuda", action="store_true")
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    device = torch.device("cuda" if args.cuda else "cpu")
    if args.cuda:
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
    run = timer(device, args.runs, 2)
    out = {"torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads(), "cases": []}
    for name, xs, cout in SHAPES:
        x = torch.randn(*xs, device=device)
        w = torch.randn(cout, xs[1], 3, 3, device=device)
        y = F.conv2d(x, w, padding=1)
        dy = torch.randn_like(y)
        flops = 2 * y.numel() * xs[1] * 9
        with torch.no_grad():
            fwd = run(lambda: F.conv2d(x, w, padding=1))
        bin_ = run(lambda: torch.nn.grad.conv2d_input(x.shape, w, dy, padding=1))
        bw = run(lambda: torch.nn.grad.conv2d_weight(x, w.shape, dy, padding=1))
        for p, ms in [("forward", fwd), ("input gradient", bin_), ("weight gradient", bw)]:
            out["cases"].append({"case": f"conv2d {name} {p}", "ms": ms, "gflops": flops / (ms * 1e-3) / 1e9})
    try:
        import torchvision

        model = torchvision.models.resnet18(weights=None).to(device).eval()
        for batch in (1, 8):
            x = torch.randn(batch, 3, 224, 224, device=device)
            with torch.no_grad():
                ms = run(lambda: model(x))
            out["cases"].append({"case": f"resnet18 forward batch {batch}", "ms": ms})
        try:
            from pytorch_grad_cam import GradCAM

            cam = GradCAM(model=model, target_layers=[model.layer4[-1]])
            x = torch.randn(1, 3, 224, 224, device=device)
            ms = run(lambda: cam(input_tensor=x, targets=None))
            out["cases"].append({"case": "resnet18 gradcam batch 1 (pytorch-grad-cam, to numpy)", "ms": ms})
        except ImportError:
            out["note"] = "pytorch-grad-cam not installed: no Grad-CAM timing"
    except ImportError:
        out["note"] = "torchvision not installed: no ResNet-18 timings"
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
