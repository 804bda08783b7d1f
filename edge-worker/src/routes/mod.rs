//! One module per route family; [`crate::api`] holds the route table.

pub mod market;
pub mod models;
pub mod predict;
pub mod predictions;
pub mod retrains;
pub mod session;
pub mod training;
