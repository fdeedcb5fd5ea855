//! edge (stub)
