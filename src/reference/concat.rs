//! PLACEHOLDER
#[allow(unused_imports)]
use super::Array;
