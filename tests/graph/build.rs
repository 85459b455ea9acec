use featuremap::graph::GraphBuilder;
use featuremap::ops::{Conv2d, Pool2d};
use featuremap::{Error, Tensor};

use crate::gpu_or_skip;

#[test]
fn shapes_are_inferred_and_mismatches_name_the_node() {
    let gpu = gpu_or_skip!();
    let mut b = GraphBuilder::new("image", [3, 17, 12]);
    let x = b.input();
    let c = b.conv2d("conv", x, Tensor::zeros(gpu, [5, 3, 3, 3]).unwrap(), None, Conv2d::same(1, 2)).unwrap();
    assert_eq!(b.item_shape(c), &[5, 9, 6]);
    let p = b.max_pool2d("pool", c, Pool2d::new(2, 2)).unwrap();
    assert_eq!(b.item_shape(p), &[5, 4, 3]);

    let err = b.add("bad_add", c, p).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Node { .. }), "{msg}");
    assert!(msg.contains("bad_add") && msg.contains("9") && msg.contains("4"), "{msg}");

    let err = b.conv2d("bad_conv", p, Tensor::zeros(gpu, [4, 7, 1, 1]).unwrap(), None, Conv2d::default()).unwrap_err();
    assert!(err.to_string().contains("bad_conv"), "{err}");
    assert!(b.relu("conv", p).is_err(), "duplicate names are rejected");
}

#[test]
fn unknown_names_list_what_exists() {
    let gpu = gpu_or_skip!();
    let mut r = crate::common::rng(3);
    let g = crate::models::small_resnet(gpu, &mut r, 16, 10);
    let err = g.tensor("layer9").unwrap_err().to_string();
    assert!(err.contains("layer9") && err.contains("stem.conv"), "{err}");
    assert_eq!(g.name(g.default_cam_layer().unwrap()), "features");
    assert_eq!(g.item_shape(g.output()), &[10]);
}
