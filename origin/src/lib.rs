//! origin (stub)
