# featuremap: `make demo` shows the engine at work, `make test` runs the test suite.
# Both first make sure a Vulkan driver is there (Linux): where none is, Mesa's software one
# (lavapipe, package mesa-vulkan-drivers) is installed with apt, and the Makefile says so.

CARGO ?= cargo
DEMO_OUT ?= out/demo

.PHONY: all build demo test bench ceiling vulkan fixtures clean

all: build

build: vulkan
	$(CARGO) build --release

demo: vulkan
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	$(CARGO) run --release --quiet -- info
	$(CARGO) run --release --quiet -- demo --out $(DEMO_OUT)

# Mesa's window-system code complains on every device when XDG_RUNTIME_DIR is unset (servers,
# CI); give it a private one so test logs stay readable.
XDG_RUNTIME_DIR ?= /tmp/featuremap-xdg-$(shell id -u)
export XDG_RUNTIME_DIR

# The kernel tests run twice: the second time llvmpipe (lavapipe) works at 128 bits, with
# subgroups of 4, as on CPUs with 128-bit vectors (ARM's NEON), where the packed kernels take
# conv2d_packed_rows_sg4 and their plain forms instead of the subgroup forms written for 256
# bits. Other drivers ignore LP_NATIVE_VECTOR_WIDTH.
test: vulkan
	@mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	$(CARGO) test --all-targets
	LP_NATIVE_VECTOR_WIDTH=128 $(CARGO) test --test kernels
	$(CARGO) test --doc

ceiling: vulkan
	$(CARGO) run --release --quiet -- bench --ceiling

bench: vulkan
	$(CARGO) bench

# Regenerates the committed fixtures (needs python3 with torch, torchvision, onnx, onnxruntime,
# grad-cam; see each script), and the big ONNX models under target/onnx-models.
PYTHON ?= python3
fixtures:
	$(PYTHON) tests/fixtures/make_fixtures.py
	$(PYTHON) tests/fixtures/make_onnx_op_fixtures.py
	$(PYTHON) tests/fixtures/make_cam_fixtures.py
	$(PYTHON) tests/fixtures/make_image_fixtures.py
	$(PYTHON) tests/fixtures/make_onnx_models.py
	$(PYTHON) tests/fixtures/make_onnx_cam_fixtures.py

# A Vulkan driver is present when the loader library and at least one ICD manifest exist.
vulkan:
	@if [ "$$(uname -s)" != "Linux" ]; then exit 0; fi; \
	icd=0; for d in /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d; do \
	  ls $$d/*.json >/dev/null 2>&1 && icd=1; done; \
	[ -n "$${VK_DRIVER_FILES}$${VK_ICD_FILENAMES}" ] && icd=1; \
	lib=0; { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libvulkan\.so\.1' && lib=1; \
	if [ $$icd = 1 ] && [ $$lib = 1 ]; then exit 0; fi; \
	echo "make: no Vulkan driver found; installing Mesa's software Vulkan driver (mesa-vulkan-drivers) with apt"; \
	SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	export DEBIAN_FRONTEND=noninteractive; \
	$$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends mesa-vulkan-drivers libvulkan1

clean:
	$(CARGO) clean
