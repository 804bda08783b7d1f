//! as-of alignment
