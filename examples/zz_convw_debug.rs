fn main() {
    use featuremap::ops::{self, Conv2d};
    use featuremap::reference::{self, Array};
    let gpu = featuremap::Gpu::new().unwrap();
    let mut st = 99u64;
    let mut rnd = move || { st = st.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); ((st >> 40) as f32 / 16777216.0) - 0.5 };
    for (n, hw) in [(1usize, 64usize), (1, 128), (2, 160), (4, 160)] {
        let x: Vec<f32> = (0..n * 4 * hw * hw).map(|_| rnd()).collect();
        let dy: Vec<f32> = (0..n * 4 * hw * hw).map(|_| rnd()).collect();
        let xt = featuremap::Tensor::from_f32(&gpu, [n, 4, hw, hw], &x).unwrap();
        let dyt = featuremap::Tensor::from_f32(&gpu, [n, 4, hw, hw], &dy).unwrap();
        let cfg = Conv2d::same(1, 1);
        let dw = gpu.run(|rec| ops::conv2d_backward_weight(rec, &dyt, &xt, &[4, 4, 3, 3], &cfg)).unwrap().to_f32(&gpu).unwrap();
        let want = reference::conv2d_backward_weight(&Array::from_f32([n, 4, hw, hw], &dy), &Array::from_f32([n, 4, hw, hw], &x), &[4, 4, 3, 3], &cfg);
        let (mut a, mut b) = (0.0f64, 0.0f64);
        for (g, w) in dw.iter().zip(&want.data) { a += (*g as f64 - w).powi(2); b += w * w; }
        println!("conv dW n {n} hw {hw} (reduction {}): rel {:.3e}", n * hw * hw, (a / b).sqrt());
    }
}
