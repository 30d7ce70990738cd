//! The side-by-side benchmark of shopguard, casbin and cedar-policy lives in `benches/compare.rs`.
