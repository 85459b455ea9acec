#!/usr/bin/env bash
# Profiles the machine code lavapipe (llvmpipe) compiled from our shaders, which no profiler
# can name: samples the command with `perf record -e cpu-clock` (no hardware counters needed),
# copies the process's anonymous executable pages out with gdb while the command runs, then
# disassembles the hottest region and sums the samples per instruction.
#
#   benches/profile_jit.sh SECONDS OUT_DIR COMMAND [ARGS...]
#
# SECONDS: when to copy the pages (the kernel of interest must be compiled and running by
# then). OUT_DIR gets perf.data, the pages (<start>.bin), hot.s (the hottest region's
# disassembly, each line prefixed by its share of all samples) and a summary on stdout.
# Example (ResNet-18's 64x56x56 forward; `zzzz` keeps criterion's part from running):
#
#   FEATUREMAP_AUTOTUNE=0 FEATUREMAP_BENCH_LAYERS="resnet18 64x56" FEATUREMAP_BENCH_PASSES=forward \
#   FEATUREMAP_BENCH_KERNELS=packed benches/profile_jit.sh 9 /tmp/jit \
#   target/release/deps/kernels-<hash> --bench zzzz
#
# Needs perf, gdb and objdump (Debian: linux-perf, gdb, binutils). Used in benches/RESULTS.md,
# session of 2026-12-07 from 19:09 UTC.
set -euo pipefail
secs=$1 out=$2
shift 2
mkdir -p "$out"
perf record -q -e cpu-clock -F 20000 -o "$out/perf.data" -- "$@" > "$out/stdout.txt" 2>&1 &
perf_pid=$!
sleep "$secs"
pid=$(pgrep -P "$perf_pid" | head -n 1)
grep -E ' r-xp 00000000 00:00 0 *$' "/proc/$pid/maps" > "$out/maps.txt"
args=()
while read -r range _; do
    args+=(-ex "dump memory $out/0x${range%-*}.bin 0x${range%-*} 0x${range#*-}")
done < "$out/maps.txt"
gdb -p "$pid" -batch "${args[@]}" > "$out/gdb.txt" 2>&1
wait "$perf_pid" || true
perf report -i "$out/perf.data" --sort sym --stdio 2> /dev/null | awk '$3 ~ /^0x/ {print $1, $3}' > "$out/hot.txt"
python3 - "$out" << 'EOF'
import collections, subprocess, sys
out = sys.argv[1]
regions = [tuple(int(v, 16) for v in l.split()[0].split("-")) for l in open(f"{out}/maps.txt")]
hot = {int(a, 16): float(p.rstrip("%")) for p, a in (l.split() for l in open(f"{out}/hot.txt"))}
per_region = collections.Counter()
for a, share in hot.items():
    for s, e in regions:
        if s <= a < e:
            per_region[s] += share
for s, share in per_region.most_common(5):
    print(f"region {s:#x}: {share:.1f}% of the samples")
top = per_region.most_common(1)[0][0]
asm = subprocess.run(["objdump", "-D", "-b", "binary", "-mi386:x86-64", f"--adjust-vma={top:#x}",
                      f"{out}/{top:#x}.bin"], capture_output=True, text=True, check=True).stdout
mix, lines = collections.Counter(), []
for line in asm.splitlines():
    parts = line.split("\t")
    if len(parts) < 3 or not parts[2].split():
        continue
    share = hot.get(int(parts[0].strip().rstrip(":"), 16), 0.0)
    mix[parts[2].split()[0]] += share
    lines.append(f"{share:5.2f} {line}")
open(f"{out}/hot.s", "w").write("\n".join(lines) + "\n")
print("hottest region's samples by instruction:", ", ".join(f"{k} {v:.1f}%" for k, v in mix.most_common(12)))
EOF
