//! The dataset readers' integration tests, linked as one binary: one module per concern.

mod input;
mod malformed;
mod real_data;
mod transforms;
