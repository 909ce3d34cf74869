//! H.265 (placeholder).
