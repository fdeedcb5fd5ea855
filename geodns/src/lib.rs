//! geodns (stub)
