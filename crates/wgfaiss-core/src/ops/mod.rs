//! Kernel families as thin operations: validate shapes, pick parameters from tuning, bind,
//! dispatch.

pub mod gemm;
pub mod gemm_coop;
pub mod ivf;
pub mod knn;
pub mod knn_half;
pub mod knn_half_tiles;
pub mod linalg;
pub mod reduce;
pub mod stream;
pub mod svd;
pub mod topk;
