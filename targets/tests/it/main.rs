//! The targets crate's integration tests, linked as one binary.

mod targets;
