//! CPU kernels for the models' hot loops, in explicit SIMD chosen at run time (pulp: AVX-512,
//! AVX2+FMA, NEON, or scalar). Burn's generic CPU convolution is an order of magnitude slower
//! than onnxruntime on Basic Pitch's shapes; these kernels keep Cadenza's CPU path fast without
//! `unsafe` or a build for one CPU.

pub mod conv;

pub use conv::{Conv2d, ConvScratch, ConvShape, Region};
