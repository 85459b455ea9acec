fn main() {
    let gpu = featuremap::Gpu::new().unwrap();
    for (mb, rows, k) in [(2usize, 64usize, 30000usize), (2, 8, 30000), (64, 8, 30000), (2, 1337, 25088)] {
        let mut st = 12345u64; let mut rnd = move || { st = st.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); ((st >> 40) as f32 / 16777216.0) - 0.5 };
        let x: Vec<f32> = (0..mb * k).map(|_| rnd()).collect();
        let w: Vec<f32> = (0..rows * k).map(|_| rnd()).collect();
        let xt = featuremap::Tensor::from_f32(&gpu, [mb, k], &x).unwrap();
        let wt = featuremap::Tensor::from_f32(&gpu, [rows, k], &w).unwrap();
        let y = gpu.run(|rec| featuremap::ops::linear(rec, &xt, &wt, None)).unwrap().to_f32(&gpu).unwrap();
        let mut num = 0.0f64; let mut den = 0.0f64;
        for n in 0..mb { for j in (0..rows).step_by(7) {
            let want: f64 = (0..k).map(|i| x[n * k + i] as f64 * w[j * k + i] as f64).sum();
            num += (y[n * rows + j] as f64 - want).powi(2); den += want * want;
        } }
        println!("m {mb} rows {rows} k {k}: rel {:.3e}", (num / den).sqrt());
    }
}
