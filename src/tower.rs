//! A tower `Layer` and `Service` (work in progress).
