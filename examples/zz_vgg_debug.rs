fn main() {
    use featuremap::graph::Keep;
    let gpu = featuremap::Gpu::new().unwrap();
    let m = featuremap::import::load_onnx(&gpu, std::path::Path::new("target/onnx-models/vgg16.onnx")).unwrap();
    let bytes = std::fs::read("target/onnx-models/vgg16.input.npy").unwrap();
    let f = npyz::NpyFile::new(&bytes[..]).unwrap();
    let x: Vec<f32> = f.into_vec().unwrap();
    let xt = featuremap::Tensor::from_f32(&gpu, [2, 3, 224, 224], &x).unwrap();
    let names = ["/features/features.30/MaxPool_output_0", "/avgpool/AveragePool_output_0", "/Flatten_output_0", "/classifier/classifier.0/Gemm_output_0"];
    let ids: Vec<_> = names.iter().map(|n| m.graph.tensor(n).unwrap()).collect();
    let acts = gpu.run(|rec| m.graph.forward(rec, &xt, &Keep::taps(&ids))).unwrap();
    let gemm = "/Flatten_output_0";
    let _ = gemm;
    let parts: Vec<_> = (0..4).map(|i| m.graph.tensor(&format!("/classifier/classifier.0/Gemm_output_0::rows{i}")).unwrap()).collect();
    let acts2 = gpu.run(|rec| m.graph.forward(rec, &xt, &Keep::taps(&parts))).unwrap();
    let b = std::fs::read("/tmp/vgg_classifier_classifier.0_Gemm_output_0.npy").unwrap();
    let w: Vec<f32> = npyz::NpyFile::new(&b[..]).unwrap().into_vec().unwrap();
    let mut r0 = 0;
    for id in &parts {
        let t = acts2.get(*id).unwrap();
        let rows = t.dims()[1];
        let v = t.to_f32(&gpu).unwrap();
        let mut num = 0.0f64; let mut den = 0.0f64;
        for n in 0..2 { for j in 0..rows { let a = v[n * rows + j]; let c = w[n * 4096 + r0 + j]; num += ((a - c) as f64).powi(2); den += (c as f64).powi(2); } }
        println!("rows {r0}..{}: rel {:.3e}", r0 + rows, (num / den).sqrt());
        r0 += rows;
    }
    for (n, id) in names.iter().zip(&ids) {
        let v = acts.get(*id).unwrap().to_f32(&gpu).unwrap();
        let file = format!("/tmp/vgg_{}.npy", n.trim_start_matches('/').replace('/', "_"));
        let b = std::fs::read(&file).unwrap();
        let w: Vec<f32> = npyz::NpyFile::new(&b[..]).unwrap().into_vec().unwrap();
        let mut num = 0.0f64; let mut den = 0.0f64;
        for (a, c) in v.iter().zip(&w) { num += ((a - c) as f64).powi(2); den += (*c as f64).powi(2); }
        println!("{n}: rel {:.3e} ours mean {:.4}", (num / den).sqrt(), v.iter().map(|a| a.abs() as f64).sum::<f64>() / v.len() as f64);
    }
}
