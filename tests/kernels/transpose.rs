use featuremap::ops;
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::common::{check, random_pair, rng, TOL};
use crate::gpu_or_skip;

/// Transposes a random tensor of `shape` by `perm` and checks the reference.
fn case(seed: u64, shape: &[usize], perm: &[usize], name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, shape);
    let y = gpu.run(|rec| ops::transpose(rec, &xt, perm)).unwrap();
    let want = reference::transpose(&xa, perm);
    check(gpu, "transpose", &format!("{name} shape={shape:?} perm={perm:?}"), &y, &want, TOL);
}

/// Every permutation of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut all = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            all.push(q);
        }
    }
    all
}

#[test]
fn every_perm_of_4d() {
    let perms = permutations(4);
    assert_eq!(perms.len(), 24);
    for (i, perm) in perms.iter().enumerate() {
        case(300 + i as u64, &[2, 3, 5, 7], perm, "4d");
    }
}

#[test]
fn rank_6_and_low_ranks() {
    case(330, &[2, 3, 1, 4, 2, 3], &[5, 3, 0, 4, 1, 2], "rank6");
    case(331, &[3, 2, 2, 2, 3, 2], &[1, 0, 3, 2, 5, 4], "rank6 pairs");
    case(332, &[5, 7], &[1, 0], "rank2");
    case(333, &[9], &[0], "rank1");
    case(334, &[2, 3, 4], &[0, 1, 2], "identity");
}

#[test]
fn random_shapes() {
    let mut r = rng(340);
    for i in 0..14 {
        let rank = r.random_range(1..=6);
        let shape: Vec<usize> = (0..rank).map(|_| r.random_range(1..5)).collect();
        let mut perm: Vec<usize> = (0..rank).collect();
        perm.shuffle(&mut r);
        case(350 + i, &shape, &perm, "random");
    }
}

#[test]
fn channel_shuffle_groups_2_and_3() {
    let gpu = gpu_or_skip!();
    let mut r = rng(370);
    for (groups, c) in [(2usize, 6usize), (3, 6), (3, 12), (2, 2), (1, 5)] {
        let shape = [2, c, 3, 4];
        let (xa, xt) = random_pair(gpu, &mut r, &shape);
        let y = gpu.run(|rec| ops::channel_shuffle(rec, &xt, groups)).unwrap();
        let want = reference::channel_shuffle(&xa, groups);
        let name = format!("channel_shuffle groups={groups} shape={shape:?}");
        check(gpu, "channel_shuffle", &name, &y, &want, TOL);
        // Also the view-transpose-view definition through the generic reference.
        let view = Array::new(vec![2, groups, c / groups, 3, 4], xa.data.clone());
        assert_eq!(reference::transpose(&view, &[0, 2, 1, 3, 4]).data, want.data, "{name}");
    }
}

#[test]
fn channel_shuffle_explicit_order() {
    let gpu = gpu_or_skip!();
    // One pixel per channel whose value is its channel index, so the output lists the order.
    for (groups, order) in [(2usize, vec![0.0f32, 3.0, 1.0, 4.0, 2.0, 5.0]), (3, vec![0.0, 2.0, 4.0, 1.0, 3.0, 5.0])] {
        let x = Tensor::from_f32(gpu, [1, 6, 1, 1], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        let y = gpu.run(|rec| ops::channel_shuffle(rec, &x, groups)).unwrap();
        assert_eq!(y.dims(), &[1, 6, 1, 1]);
        assert_eq!(y.to_f32(gpu).unwrap(), order, "groups {groups}");
        let want =
            reference::channel_shuffle(&Array::from_f32(vec![1, 6, 1, 1], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]), groups);
        assert_eq!(want.data, order.iter().map(|&v| v as f64).collect::<Vec<_>>(), "reference, groups {groups}");
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let x = Tensor::zeros(gpu, [1, 6, 2, 2]).unwrap();
    let err = gpu.run(|rec| ops::transpose(rec, &x, &[0, 1, 1, 3])).unwrap_err();
    assert!(err.to_string().contains("transpose"), "{err}");
    assert!(gpu.run(|rec| ops::transpose(rec, &x, &[0, 1, 2])).is_err());
    assert!(gpu.run(|rec| ops::transpose(rec, &x, &[0, 1, 2, 4])).is_err());
    assert!(gpu.run(|rec| ops::transpose(rec, &x, &[0, 1, 2, 3, 4])).is_err());
    let x7 = Tensor::zeros(gpu, [1, 1, 1, 1, 1, 2, 2]).unwrap();
    assert!(gpu.run(|rec| ops::transpose(rec, &x7, &[0, 1, 2, 3, 4, 6, 5])).is_err());
    assert!(gpu.run(|rec| ops::channel_shuffle(rec, &x, 4)).is_err());
    assert!(gpu.run(|rec| ops::channel_shuffle(rec, &x, 0)).is_err());
    let x3 = Tensor::zeros(gpu, [6, 2, 2]).unwrap();
    assert!(gpu.run(|rec| ops::channel_shuffle(rec, &x3, 2)).is_err());
}
