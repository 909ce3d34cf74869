//! VP9 (placeholder).
