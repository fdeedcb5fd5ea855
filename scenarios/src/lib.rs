//! scenarios (stub)
