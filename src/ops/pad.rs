//! PLACEHOLDER
#[allow(unused_imports)]
use super::*;

pub(super) fn uniform_layouts(_v: &mut Vec<(&'static str, usize)>) {}
