//! Every CLI verb end to end through the binary: outputs written, errors as one line and a
//! non-zero exit, and `featuremap cam` on the mobilenet_v2 export against pytorch-grad-cam
//! (tests/fixtures/make_onnx_cam_fixtures.py): max abs difference at most 5e-3.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_featuremap");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
fn onnx(name: &str) -> PathBuf {
    root().join("tests/fixtures/onnx").join(format!("{name}.onnx"))
}
fn image(name: &str) -> PathBuf {
    root().join("tests/fixtures/images").join(name)
}
fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("featuremap-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

mod support;

/// Whether an adapter is present; where it must be (CI) and is not, fail.
fn have_gpu() -> bool {
    support::gpu().is_some()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run featuremap")
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "featuremap {args:?} failed:\n{err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs a command that must fail; returns its one-line error.
fn fails(args: &[&str]) -> String {
    let o = run(args);
    assert!(!o.status.success(), "featuremap {args:?} should have failed");
    let err = String::from_utf8_lossy(&o.stderr);
    let line =
        err.lines().find(|l| l.starts_with("featuremap: error:")).unwrap_or_else(|| panic!("no error line in:\n{err}"));
    line.to_string()
}

fn npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    featuremap::io::read_npy(path).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn help_of_every_verb_has_an_example() {
    for verb in ["info", "bench", "inspect", "run", "cam", "features", "embed", "demo"] {
        let out = ok(&[verb, "--help"]);
        assert!(out.contains("Example"), "{verb} --help has no example:\n{out}");
    }
}

#[test]
fn info_and_ceiling_json() {
    if !have_gpu() {
        return;
    }
    let v: serde_json::Value = serde_json::from_str(&ok(&["info", "--json"])).unwrap();
    assert!(v["adapter"].is_string() && v["limits"]["max_storage_buffer_binding_size"].is_number());
    let v: serde_json::Value = serde_json::from_str(&ok(&["bench", "--ceiling", "--json", "--iters", "1"])).unwrap();
    assert!(v["adapter"].is_string());
    assert!(v["fma_gflops"].as_f64().unwrap() > 0.0 && v["copy_gbps"].as_f64().unwrap() > 0.0);
    let stores = v["fma_per_scattered_vec4_store"].as_array().unwrap();
    let fmas: Vec<u64> = stores.iter().map(|e| e["fmas_per_store"].as_u64().unwrap()).collect();
    assert_eq!(fmas, [32, 16, 8, 4, 1]);
    assert!(stores.iter().all(|e| e["gflops"].as_f64().unwrap() > 0.0), "{stores:?}");
}

#[test]
fn bench_model_json() {
    if !have_gpu() {
        return;
    }
    let m = onnx("squeezenet1_1");
    let out = ok(&[
        "bench",
        s(&m),
        "--batch",
        "2",
        "--iters",
        "2",
        "--cam",
        "/features/features.12/Concat_output_0",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in ["adapter", "batch", "forward_ms_median", "forward_ms_min", "forward_ms_max", "cam_ms_median"] {
        assert!(!v[key].is_null(), "bench JSON lacks {key}: {out}");
    }
    assert_eq!(v["batch"], 2);
    // The FLOPs are inspect's, per image, times the batch.
    let per_image: u64 = ok(&["inspect", s(&m), "--json"])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["flops"].as_u64().unwrap())
        .sum();
    let gflop = v["forward_gflop"].as_f64().unwrap();
    assert!((gflop - 2.0 * per_image as f64 / 1e9).abs() < 1e-9, "{gflop} against 2 x {per_image}: {out}");
    assert!(v["forward_gflops_per_second"].as_f64().unwrap() > 0.0);
    // The last timed forward repeats the one before: every bind group is reused.
    assert!(v["bind_groups_reused"].as_u64().unwrap() > 0 && v["bind_groups_built"] == 0, "{out}");
}

#[test]
fn inspect_lists_every_node() {
    if !have_gpu() {
        return;
    }
    let out = ok(&["inspect", s(&onnx("squeezenet1_1"))]);
    assert!(out.contains("conv2d") && out.contains("max_pool2d") && out.contains("global"), "{out}");
    assert!(out.contains("/features/features.12/Concat_output_0"), "{out}");
}

#[test]
fn run_writes_logits_and_prints_labelled_top_k() {
    if !have_gpu() {
        return;
    }
    let labels = tmp("labels.txt");
    std::fs::write(&labels, (0..1000).map(|i| format!("class-{i}\n")).collect::<String>()).unwrap();
    let out_npy = tmp("logits.npy");
    let out = ok(&[
        "run",
        s(&onnx("squeezenet1_1")),
        "--input",
        s(&image("gradient_300x200.png")),
        "--top",
        "3",
        "--labels",
        s(&labels),
        "--output",
        s(&out_npy),
    ]);
    assert_eq!(out.matches("class-").count(), 3, "{out}");
    let (shape, v) = npy(&out_npy);
    assert_eq!(shape, vec![1, 1000]);
    assert!(v.iter().all(|x| x.is_finite()));
}

#[test]
fn features_and_embed() {
    if !have_gpu() {
        return;
    }
    let m = onnx("squeezenet1_1");
    let (png, stack) = (tmp("grid.png"), tmp("stack.npy"));
    ok(&[
        "features",
        s(&m),
        s(&image("scene_500x333.webp")),
        "--layer",
        "/features/features.0/Conv_output_0",
        "--png",
        s(&png),
        "--npy",
        s(&stack),
    ]);
    let grid = image::open(&png).unwrap();
    assert!(grid.width() > 100 && grid.height() > 100);
    assert_eq!(npy(&stack).0, vec![1, 64, 111, 111]);
    let emb = tmp("emb.npy");
    ok(&[
        "embed",
        s(&m),
        s(&image("gradient_300x200.png")),
        s(&image("checker_64x64.bmp")),
        "--layer",
        "/features/features.12/Concat_output_0",
        "--npy",
        s(&emb),
    ]);
    assert_eq!(npy(&emb).0, vec![2, 512]);
}

#[test]
fn cam_on_a_folder_writes_pngs_npys_and_an_html_report() {
    if !have_gpu() {
        return;
    }
    let dir = tmp("folder");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["gradient_300x200.png", "checker_64x64.bmp", "scene_500x333.webp"] {
        std::fs::copy(image(f), dir.join(f)).unwrap();
    }
    let (out, html) = (tmp("cams"), tmp("report.html"));
    ok(&["cam", s(&onnx("squeezenet1_1")), s(&dir), "--out", s(&out), "--html", s(&html), "--batch", "2"]);
    for stem in ["gradient_300x200", "checker_64x64", "scene_500x333"] {
        assert!(out.join(format!("{stem}.png")).exists() && out.join(format!("{stem}.npy")).exists(), "{stem}");
        let (shape, v) = npy(&out.join(format!("{stem}.npy")));
        assert_eq!(shape, vec![224, 224]);
        assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("data:image/png;base64,").count(), 3);
    // No temporary files left behind.
    assert!(std::fs::read_dir(&out).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains("tmp")));
    render_in_chromium(&html);
}

/// Opens the report in headless Chromium and checks the screenshot shows the overlays.
fn render_in_chromium(html: &Path) {
    let Some(chromium) = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| Path::new(p).exists())
    else {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("CI installs chromium; it is missing");
        }
        println!("SKIPPED chromium rendering: chromium is not installed (apt-get install chromium)");
        return;
    };
    let shot = tmp("report.png");
    let profile = tmp("chromium-profile");
    let o = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .args(["--window-size=900,700"])
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(shot.exists(), "chromium wrote no screenshot: {}", String::from_utf8_lossy(&o.stderr));
    // The overlays use the jet colormap: count strongly coloured pixels.
    let img = image::open(&shot).unwrap().to_rgb8();
    let coloured = img
        .pixels()
        .filter(|p| {
            let (mx, mn) = (p.0.iter().max().unwrap(), p.0.iter().min().unwrap());
            mx - mn > 80
        })
        .count();
    println!("chromium screenshot: {coloured} strongly coloured pixels");
    assert!(coloured > 3 * 150 * 150 / 4, "the rendered page shows no overlays ({coloured} coloured pixels)");
}

#[test]
fn bad_input_is_one_line_and_a_non_zero_exit() {
    if !have_gpu() {
        return;
    }
    let m = onnx("squeezenet1_1");
    let e = fails(&["run", "/no/such/model.onnx", "--input", s(&image("gradient_300x200.png"))]);
    assert!(e.contains("/no/such/model.onnx"), "{e}");
    let e = fails(&["run", s(&m), "--input", "/no/such/image.png"]);
    assert!(e.contains("/no/such/image.png"), "{e}");
    let e = fails(&["cam", s(&m), s(&image("gradient_300x200.png")), "--layer", "nope", "--npy", s(&tmp("x.npy"))]);
    assert!(e.contains("nope"), "{e}");
    let e = fails(&["cam", s(&m), s(&image("gradient_300x200.png")), "--method", "magic", "--npy", s(&tmp("x.npy"))]);
    assert!(e.contains("magic") && e.contains("gradcam"), "{e}");
    let e =
        fails(&["features", s(&m), s(&image("gradient_300x200.png")), "--layer", "logits", "--png", s(&tmp("g.png"))]);
    assert!(e.contains("logits"), "{e}");
}

/// `featuremap cam` on the mobilenet_v2 export against pytorch-grad-cam, per method.
fn cam_parity(model: &str, method: &str) {
    if !have_gpu() {
        return;
    }
    let fx = root().join("tests/fixtures/onnx_cam");
    let m = [root().join("tests/fixtures/onnx"), root().join("target/onnx-models")]
        .into_iter()
        .map(|d| d.join(format!("{model}.onnx")))
        .find(|p| p.exists());
    let Some(m) = m else {
        println!("SKIPPED {model} {method}: {model}.onnx not generated (tests/fixtures/make_onnx_models.py {model})");
        return;
    };
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fx.join("manifest.json")).unwrap()).unwrap();
    let layer = manifest["models"][model]["layer"].as_str().unwrap();
    let out = tmp(&format!("{model}.{method}.npy"));
    ok(&[
        "cam",
        s(&m),
        s(&fx.join(format!("{model}.input.npy"))),
        "--layer",
        layer,
        "--method",
        method,
        "--npy",
        s(&out),
    ]);
    let (shape, got) = npy(&out);
    assert_eq!(shape, vec![1, 224, 224]);
    let mut candidates = vec![fx.join(format!("{model}.{method}.npy"))];
    if method.starts_with("eigen") {
        candidates.push(fx.join(format!("{model}.{method}.flipped.npy")));
    }
    let best = candidates
        .iter()
        .map(|f| {
            let (_, want) = npy(f);
            let d: Vec<f64> = got.iter().zip(&want).map(|(a, b)| (*a as f64 - *b as f64).abs()).collect();
            (d.iter().cloned().fold(0.0, f64::max), d.iter().sum::<f64>() / d.len() as f64)
        })
        .fold((f64::INFINITY, f64::INFINITY), |a, b| if b.0 < a.0 { b } else { a });
    println!("ONNX-CAM {model} {method}: max {:.2e} mean {:.2e}", best.0, best.1);
    assert!(best.0 <= 5e-3, "{model} {method}: max abs difference {:.2e} against pytorch-grad-cam", best.0);
}

macro_rules! cam_tests {
    ($model:literal: $($name:ident => $method:literal),*) => {$(
        #[test]
        fn $name() {
            cam_parity($model, $method);
        }
    )*};
}

cam_tests!("mobilenet_v2":
    mobilenet_v2_gradcam => "gradcam", mobilenet_v2_hirescam => "hirescam", mobilenet_v2_gradcam_pp => "gradcam++",
    mobilenet_v2_xgradcam => "xgradcam", mobilenet_v2_layercam => "layercam", mobilenet_v2_ablationcam => "ablationcam",
    mobilenet_v2_eigencam => "eigencam", mobilenet_v2_eigengradcam => "eigengradcam");
cam_tests!("resnet18":
    resnet18_gradcam => "gradcam", resnet18_hirescam => "hirescam", resnet18_gradcam_pp => "gradcam++",
    resnet18_xgradcam => "xgradcam", resnet18_layercam => "layercam", resnet18_ablationcam => "ablationcam",
    resnet18_eigencam => "eigencam", resnet18_eigengradcam => "eigengradcam");

/// Score-CAM runs one forward pass per channel (1280 for mobilenet_v2, 512 for resnet18): minutes
/// on a software adapter, so it runs where FEATUREMAP_SLOW_TESTS=1 asks for it.
#[test]
fn scorecam_on_exports() {
    if std::env::var("FEATUREMAP_SLOW_TESTS").as_deref() != Ok("1") {
        println!("SKIPPED Score-CAM on the exports: set FEATUREMAP_SLOW_TESTS=1 (minutes on lavapipe)");
        return;
    }
    cam_parity("mobilenet_v2", "scorecam");
    cam_parity("resnet18", "scorecam");
}

/// Writes generated test scene `i` as a `w x h` PNG (or JPEG, by extension): the scene's 64x64
/// image resized, so the demo model's preprocessing has something to undo.
fn scene_picture(i: u64, w: u32, h: u32, name: &str) -> PathBuf {
    use featuremap::data::{SceneGenerator, Split};
    let scene = SceneGenerator::new(64, Split::Test).unwrap().scene(i);
    let rgb = featuremap::vis::chw_to_rgb(&scene.image, 64, 64).unwrap();
    let path = tmp(name);
    if (w, h) == (64, 64) && name.ends_with(".png") {
        featuremap::vis::save_png_atomic(&rgb, &path).unwrap();
    } else {
        image::imageops::resize(&rgb, w, h, image::imageops::FilterType::Triangle).save(&path).unwrap();
    }
    path
}

/// The top-K lines of `run`: `class  percent%  logit value  name`.
fn top_k_names(out: &str) -> Vec<String> {
    out.lines().filter(|l| l.contains("logit")).filter_map(|l| l.split_whitespace().last().map(String::from)).collect()
}

#[test]
fn help_names_the_demo_model() {
    for verb in ["bench", "inspect", "run", "cam", "features", "embed"] {
        let out = ok(&[verb, "--help"]);
        assert!(out.contains("`demo`"), "{verb} --help does not mention the embedded model:\n{out}");
    }
}

#[test]
fn demo_writes_overlays_grids_table_and_page() {
    if !have_gpu() {
        return;
    }
    let dir = tmp("demo");
    let out = ok(&["demo", "--out", s(&dir)]);
    assert!(out.contains("adapter"), "{out}");
    let classes = featuremap::demo::CLASSES;
    assert_eq!(out.lines().filter(|l| l.starts_with("scene ") && l.contains("predicted")).count(), 8, "{out}");
    for (i, class) in classes.iter().enumerate() {
        assert!(out.contains(&format!("scene {i}: true {class}, predicted ")), "{out}");
        for f in [format!("scene{i}_{class}.png"), format!("scene{i}_{class}_gradcam.png")] {
            let img = image::open(dir.join(&f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!((img.width(), img.height()), (256, 256), "{f}");
        }
    }
    // One labelled grid per stage, each tile as tall as its maps (scaled up): spatial size falls.
    for stage in featuremap::demo::STAGES {
        let f = format!("{stage}_features.png");
        let img = image::open(dir.join(&f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(img.width() >= 64 && img.height() >= 64, "{f}");
    }
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let mut pngs = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains("tmp"), "temporary file {name} left behind");
        if name.ends_with(".png") {
            assert!(page.contains(&format!("src=\"{name}\"")), "index.html does not show {name}");
            pngs += 1;
        }
    }
    // An input and an overlay per scene, the four stage grids, and the overview.
    assert_eq!(pngs, 2 * 8 + 4 + 1);
    let overview = image::open(dir.join("overview.png")).unwrap();
    assert_eq!((overview.width(), overview.height()), (8 * (128 + 4) + 4, 2 * 128 + 3 * 4));
    for (stage, shape) in [("stage1", "16 maps of 64x64"), ("stage4", "128 maps of 8x8")] {
        assert!(page.contains(&format!("{stage}: {shape}")), "index.html lacks {stage}'s shape");
    }
    for class in classes {
        assert!(page.contains(&format!("<td>{class}</td>")), "index.html lacks the true class {class}");
    }
    let table = std::fs::read_to_string(dir.join("inspect.txt")).unwrap();
    for (stage, shape) in [
        ("stage1", "[1, 16, 64, 64]"),
        ("stage2", "[1, 32, 32, 32]"),
        ("stage3", "[1, 64, 16, 16]"),
        ("stage4", "[1, 128, 8, 8]"),
    ] {
        let row = table.lines().find(|l| l.split_whitespace().next() == Some(stage));
        assert!(row.is_some_and(|r| r.contains("relu") && r.contains(shape)), "inspect.txt lacks {stage}:\n{table}");
    }
    assert!(page.contains("stage4.conv"), "index.html lacks the inspect table");
}

#[test]
fn demo_explains_a_users_picture() {
    if !have_gpu() {
        return;
    }
    let picture = scene_picture(5, 100, 70, "my star.png");
    let dir = tmp("demo-mine");
    let out = ok(&["demo", "--image", s(&picture), "--scenes", "1", "--out", s(&dir)]);
    assert!(out.contains("my star: true -, predicted "), "{out}");
    assert!(out.contains("scene 0: true circle, predicted "), "{out}");
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    for f in ["image0_my_star.png", "image0_my_star_gradcam.png", "scene0_circle_gradcam.png"] {
        let img = image::open(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!((img.width(), img.height()), (256, 256), "{f}");
        assert!(page.contains(&format!("src=\"{f}\"")), "index.html does not show {f}");
    }
    // The stage grids show the user's picture, the first one.
    assert!(page.contains("Feature maps of my star"), "{page}");
    let e = fails(&["demo", "--scenes", "0", "--out", s(&dir)]);
    assert!(e.contains("--image"), "{e}");
}

#[test]
fn run_demo_prints_class_names() {
    if !have_gpu() {
        return;
    }
    let picture = scene_picture(3, 64, 64, "scene3.png");
    let out = ok(&["run", "demo", "--input", s(&picture)]);
    let names = top_k_names(&out);
    assert_eq!(names.len(), 5, "{out}");
    assert!(names.iter().all(|n| featuremap::demo::CLASSES.contains(&n.as_str())), "{out}");
    // --labels still wins over the model's own names.
    let labels = tmp("demo-labels.txt");
    std::fs::write(&labels, (0..8).map(|i| format!("mine-{i}\n")).collect::<String>()).unwrap();
    let out = ok(&["run", "demo", "--input", s(&picture), "--top", "2", "--labels", s(&labels)]);
    assert_eq!(out.matches("mine-").count(), 2, "{out}");
}

#[test]
fn run_demo_takes_pictures_of_any_size() {
    if !have_gpu() {
        return;
    }
    for (w, h, name) in [(100, 70, "wide_100x70.png"), (70, 100, "tall_70x100.jpg"), (40, 40, "small_40x40.png")] {
        let picture = scene_picture(2, w, h, name);
        let out = ok(&["run", "demo", "--input", s(&picture), "--top", "8"]);
        let mut names = top_k_names(&out);
        names.sort();
        let mut all: Vec<String> = featuremap::demo::CLASSES.iter().map(|c| c.to_string()).collect();
        all.sort();
        assert_eq!(names, all, "{name}: {out}");
    }
}

#[test]
fn every_verb_takes_the_demo_model() {
    if !have_gpu() {
        return;
    }
    let picture = scene_picture(1, 90, 64, "verbs.png");
    let table = ok(&["inspect", "demo"]);
    for stage in featuremap::demo::STAGES {
        assert!(table.lines().any(|l| l.starts_with(&format!("{stage} "))), "{table}");
    }
    let grid = tmp("demo-grid.png");
    ok(&["features", "demo", s(&picture), "--layer", "stage2", "--png", s(&grid)]);
    let img = image::open(&grid).unwrap();
    assert!(img.width() > 96 && img.height() > 96);
    let (cam_png, cam_npy, html) = (tmp("demo-cam.png"), tmp("demo-cam.npy"), tmp("demo-cam.html"));
    let out = ok(&["cam", "demo", s(&picture), "--png", s(&cam_png), "--npy", s(&cam_npy), "--html", s(&html)]);
    assert!(featuremap::demo::CLASSES.iter().any(|c| out.contains(&format!(" {c} ("))), "{out}");
    let img = image::open(&cam_png).unwrap();
    assert_eq!((img.width(), img.height()), (64, 64));
    assert_eq!(npy(&cam_npy).0, vec![1, 64, 64]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(featuremap::demo::CLASSES.iter().any(|c| page.contains(&format!(" {c} ("))), "{page}");
    let emb = tmp("demo-emb.npy");
    ok(&["embed", "demo", s(&picture), s(&picture), "--layer", "stage4", "--npy", s(&emb)]);
    assert_eq!(npy(&emb).0, vec![2, 128]);
    let v: serde_json::Value =
        serde_json::from_str(&ok(&["bench", "demo", "--iters", "1", "--cam", "stage4", "--json"])).unwrap();
    assert_eq!(v["model"], "demo");
    assert!(v["forward_ms_median"].as_f64().unwrap() > 0.0 && v["cam_ms_median"].is_number());
    // `./demo` is a path: a missing file is an error naming it, not the embedded model.
    let e = fails(&["inspect", "./demo"]);
    assert!(e.contains("./demo"), "{e}");
}

/// The first run of a big enough convolution times both kernels and stores the choice per
/// adapter and shape in the cache folder; a second run reads it and times nothing new.
#[test]
fn autotune_choices_are_cached_on_disk() {
    if !have_gpu() {
        return;
    }
    let dir = tmp("autotune-cache");
    let _ = std::fs::remove_dir_all(&dir);
    let bench = |dir: &Path| {
        let o = Command::new(BIN)
            .args(["bench", "demo", "--batch", "4", "--iters", "1", "--json"])
            .env("FEATUREMAP_CACHE_DIR", dir)
            .env_remove("FEATUREMAP_AUTOTUNE")
            .env_remove("FEATUREMAP_CONV")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    bench(&dir);
    let file = dir.join("autotune.json");
    let first = std::fs::read_to_string(&file).expect("autotune.json written");
    let map: std::collections::BTreeMap<String, String> = serde_json::from_str(&first).unwrap();
    let info: serde_json::Value = serde_json::from_str(&ok(&["info", "--json"])).unwrap();
    let adapter = info["adapter"].as_str().unwrap();
    // Stage 2 to 4 of the demo model at batch 4 are above the tuning threshold (stage 1 is not).
    assert!(map.len() >= 3, "{map:?}");
    for (key, choice) in &map {
        assert!(key.starts_with(adapter) && key.contains("conv2d r") && key.contains(" x[4, "), "{key}");
        assert!(["tiled", "direct", "depthwise", "packed"].contains(&choice.as_str()), "{choice}");
    }
    bench(&dir);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first, "a second run re-tuned");
}

/// `bench MODEL` reports the GPU time of every layer and of every kernel from timestamp queries
/// where the adapter has them (null where it has not).
#[test]
fn bench_reports_gpu_time_per_layer() {
    if !have_gpu() {
        return;
    }
    let v: serde_json::Value = serde_json::from_str(&ok(&["bench", "demo", "--iters", "1", "--json"])).unwrap();
    let Some(rows) = v["layer_gpu_ms"].as_array() else {
        assert!(v["layer_gpu_ms"].is_null(), "{v}");
        println!("SKIPPED per-layer times: the adapter has no TIMESTAMP_QUERY");
        return;
    };
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    for want in ["stage1.conv", "stage1.bn", "stage4", "pool", "fc"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(rows.iter().all(|r| r["ms"].as_f64().unwrap() >= 0.0));
    let conv = rows.iter().find(|r| r["name"] == "stage2.conv").unwrap();
    assert_eq!(conv["op"], "conv2d");
    assert!(conv["ms"].as_f64().unwrap() > 0.0, "{conv}");
    // The same forward split by kernel: one row per entry point, the convs' among them.
    let kernels = v["kernel_gpu_ms"].as_array().unwrap();
    let entries: Vec<&str> = kernels.iter().map(|r| r["kernel"].as_str().unwrap()).collect();
    assert!(entries.iter().all(|e| !e.is_empty()) && entries.iter().any(|e| e.starts_with("conv2d")), "{entries:?}");
    assert!(kernels.iter().all(|r| r["ms"].as_f64().unwrap() >= 0.0));
    let mut unique = entries.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), entries.len(), "{entries:?}");
}

/// `--f16` runs the model in f16 storage; `bench` reports how far its output lands from f32.
#[test]
fn f16_storage_from_the_command_line() {
    if !have_gpu() {
        return;
    }
    let info: serde_json::Value = serde_json::from_str(&ok(&["info", "--json"])).unwrap();
    if !info["features"].as_array().unwrap().iter().any(|f| f == "SHADER_F16") {
        let o = run(&["bench", "demo", "--iters", "1", "--f16"]);
        assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("SHADER_F16"));
        return;
    }
    let out = ok(&["bench", "demo", "--iters", "1", "--batch", "2", "--f16", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["storage"], "f16", "{out}");
    let e = &v["f16_vs_f32"];
    println!("F16-ERROR demo logits: {e}");
    // Four conv stages and the head, each rounding to f16 (2^-11): well under 1% of the logits.
    assert!(e["rel_l2"].as_f64().unwrap() < 1e-2, "{e}");
    assert_eq!(e["top1_agree"], 2, "{e}");
    let f32_out: serde_json::Value = serde_json::from_str(&ok(&["bench", "demo", "--iters", "1", "--json"])).unwrap();
    assert_eq!(f32_out["storage"], "f32");
    assert!(f32_out["f16_vs_f32"].is_null());
    let png = tmp("f16-cam.png");
    ok(&["cam", "demo", s(&image("shapes_199x257.jpg")), "--f16", "--png", s(&png)]);
    assert!(png.exists());
}
