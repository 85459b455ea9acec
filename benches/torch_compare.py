#!/usr/bin/env python3
"""Times PyTorch on the same layers and models as featuremap's benchmarks, on this machine, so
that every claim is a ratio from one run on one machine.

    /opt/torchenv/bin/python benches/torch_compare.py            # CPU (all cores)
    /opt/torchenv/bin/python benches/torch_compare.py --cuda     # GPU, timed with CUDA events

Prints one JSON object: the torch version, the device, the thread count, and per case the
median milliseconds over `--runs` runs after warm-up:
- conv2d forward, input gradient and weight gradient on the layers of `cargo bench --bench
  kernels` (ResNet-18, ResNet-50, VGG-16 and MobileNetV2 at batch 1, the demo model's at 32);
- forward of ResNet-18 (batch 1 and 8), ResNet-50, VGG-16 and MobileNetV2 (batch 1; with --cuda
  also ResNet-50 at batch 32) at 224x224 (torchvision, random weights, eval mode);
- Grad-CAM with pytorch-grad-cam for the top-1 class, to a heatmap in host memory: ResNet-18
  layer4 at batch 1, and ResNet-50 layer4 at batch 1 (and 32 with --cuda), if the package is
  installed.
With --cuda, TF32 is off unless --tf32 is given. `--only WORD` keeps the cases containing it.
Where pytorch-grad-cam is not installed (the GPU machines), its Grad-CAM is written out in torch
(`grad_cam` below: the same steps, hooks on the target layer, top-1 score, channel weights =
mean gradient, ReLU of the weighted sum, bilinear upsampling, min-max per image, to numpy) and
the case says so; `--own-gradcam` uses it even where the package is there.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

# (name, input shape, C_out, kernel, stride, groups): the LAYERS of benches/kernels.rs.
LAYERS = [
    ("resnet18 stem 3->64 7x7 s2 @224", (1, 3, 224, 224), 64, 7, 2, 1),
    ("resnet18 64x56x56", (1, 64, 56, 56), 64, 3, 1, 1),
    ("resnet18 128x28x28", (1, 128, 28, 28), 128, 3, 1, 1),
    ("resnet18 256x14x14", (1, 256, 14, 14), 256, 3, 1, 1),
    ("resnet18 512x7x7", (1, 512, 7, 7), 512, 3, 1, 1),
    ("resnet18 64->128 3x3 s2 @56", (1, 64, 56, 56), 128, 3, 2, 1),
    ("resnet18 downsample 64->128 1x1 s2 @56", (1, 64, 56, 56), 128, 1, 2, 1),
    ("resnet50 1x1 64->256 @56", (1, 64, 56, 56), 256, 1, 1, 1),
    ("resnet50 1x1 256->64 @56", (1, 256, 56, 56), 64, 1, 1, 1),
    ("resnet50 1x1 512->128 @28", (1, 512, 28, 28), 128, 1, 1, 1),
    ("resnet50 1x1 1024->256 @14", (1, 1024, 14, 14), 256, 1, 1, 1),
    ("resnet50 1x1 256->1024 @14", (1, 256, 14, 14), 1024, 1, 1, 1),
    ("resnet50 1x1 2048->512 @7", (1, 2048, 7, 7), 512, 1, 1, 1),
    ("vgg16 3->64 @224", (1, 3, 224, 224), 64, 3, 1, 1),
    ("vgg16 64->64 @224", (1, 64, 224, 224), 64, 3, 1, 1),
    ("vgg16 128->128 @112", (1, 128, 112, 112), 128, 3, 1, 1),
    ("vgg16 256->256 @56", (1, 256, 56, 56), 256, 3, 1, 1),
    ("vgg16 512->512 @28", (1, 512, 28, 28), 512, 3, 1, 1),
    ("vgg16 512->512 @14", (1, 512, 14, 14), 512, 3, 1, 1),
    ("mobilenetv2 stem 3->32 3x3 s2 @224", (1, 3, 224, 224), 32, 3, 2, 1),
    ("mobilenetv2 depthwise 32 @112", (1, 32, 112, 112), 32, 3, 1, 32),
    ("mobilenetv2 depthwise 144 s2 @56", (1, 144, 56, 56), 144, 3, 2, 144),
    ("mobilenetv2 depthwise 192 @28", (1, 192, 28, 28), 192, 3, 1, 192),
    ("mobilenetv2 depthwise 576 @14", (1, 576, 14, 14), 576, 3, 1, 576),
    ("mobilenetv2 1x1 expand 24->144 @56", (1, 24, 56, 56), 144, 1, 1, 1),
    ("mobilenetv2 1x1 project 192->32 @28", (1, 192, 28, 28), 32, 1, 1, 1),
    ("mobilenetv2 1x1 960->160 @7", (1, 960, 7, 7), 160, 1, 1, 1),
    ("demo stage1 3->16 @64, batch 32", (32, 3, 64, 64), 16, 3, 1, 1),
    ("demo stage2 16->32 @32, batch 32", (32, 16, 32, 32), 32, 3, 1, 1),
    ("demo stage3 32->64 @16, batch 32", (32, 32, 16, 16), 64, 3, 1, 1),
    ("demo stage4 64->128 @8, batch 32", (32, 64, 8, 8), 128, 3, 1, 1),
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


def grad_cam(model, layer, x):
    """pytorch-grad-cam's GradCAM for the top-1 class, written out: heatmaps [N, H, W] as numpy."""
    store = {}
    fwd = layer.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    bwd = layer.register_full_backward_hook(lambda m, gi, go: store.__setitem__("g", go[0]))
    try:
        model.zero_grad()
        logits = model(x)
        top = logits.argmax(dim=1)
        logits.gather(1, top[:, None]).sum().backward()
        a, g = store["a"], store["g"]
        cam = torch.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1, keepdim=True))
        cam = F.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)[:, 0]
        lo = cam.amin(dim=(1, 2), keepdim=True)
        hi = cam.amax(dim=(1, 2), keepdim=True)
        return ((cam - lo) / (hi - lo + 1e-7)).detach().cpu().numpy()
    finally:
        fwd.remove()
        bwd.remove()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cuda", action="store_true")
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="", help="keep only the cases whose name contains this")
    ap.add_argument("--own-gradcam", action="store_true", help="time the written-out Grad-CAM even if the package is there")
    args = ap.parse_args()
    device = torch.device("cuda" if args.cuda else "cpu")
    if args.cuda:
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
    run = timer(device, args.runs, 2)
    out = {"torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads(), "cases": []}
    for name, xs, cout, k, stride, groups in LAYERS:
        if args.only not in f"conv2d {name}":
            continue
        x = torch.randn(*xs, device=device)
        w = torch.randn(cout, xs[1] // groups, k, k, device=device)
        kw = dict(stride=stride, padding=k // 2, groups=groups)
        y = F.conv2d(x, w, **kw)
        dy = torch.randn_like(y)
        flops = 2 * y.numel() * (xs[1] // groups) * k * k
        with torch.no_grad():
            fwd = run(lambda: F.conv2d(x, w, **kw))
        bin_ = run(lambda: torch.nn.grad.conv2d_input(x.shape, w, dy, **kw))
        bw = run(lambda: torch.nn.grad.conv2d_weight(x, w.shape, dy, **kw))
        for p, ms in [("forward", fwd), ("input gradient", bin_), ("weight gradient", bw)]:
            out["cases"].append({"case": f"conv2d {name} {p}", "ms": ms, "gflops": flops / (ms * 1e-3) / 1e9})
    try:
        import torchvision

        batches = {"resnet18": (1, 8), "resnet50": (1, 32) if args.cuda else (1,), "vgg16": (1,), "mobilenet_v2": (1,)}
        models = {}
        for arch, sizes in batches.items():
            if not any(args.only in f"{arch} forward batch {b}" for b in sizes) and args.only not in f"{arch} gradcam":
                continue
            model = models[arch] = getattr(torchvision.models, arch)(weights=None).to(device).eval()
            for batch in sizes:
                if args.only not in f"{arch} forward batch {batch}":
                    continue
                x = torch.randn(batch, 3, 224, 224, device=device)
                with torch.no_grad():
                    ms = run(lambda: model(x))
                out["cases"].append({"case": f"{arch} forward batch {batch}", "ms": ms, "images_per_second": batch / (ms * 1e-3)})
        try:
            if args.own_gradcam:
                raise ImportError
            from pytorch_grad_cam import GradCAM

            def make_cam(model):
                cam = GradCAM(model=model, target_layers=[model.layer4[-1]])
                return lambda x: cam(input_tensor=x, targets=None), "pytorch-grad-cam, to numpy"
        except ImportError:

            def make_cam(model):
                return lambda x: grad_cam(model, model.layer4[-1], x), "pytorch-grad-cam's steps written out in torch, to numpy"

        for arch, sizes in [("resnet18", (1,)), ("resnet50", (1, 32) if args.cuda else (1,))]:
            if arch not in models:
                continue
            cam, how = make_cam(models[arch])
            for batch in sizes:
                case = f"{arch} gradcam batch {batch} ({how})"
                if args.only not in case:
                    continue
                x = torch.randn(batch, 3, 224, 224, device=device)
                out["cases"].append({"case": case, "ms": run(lambda: cam(x))})
    except ImportError:
        out["note"] = "torchvision not installed: no model timings"
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
