//! SNASNet training-free search (snasnet.md §2.6, §4, §5): the cell sampler and the SAHD score kernel.

pub mod correlate;
pub mod genotype;
pub mod kernel;
pub mod sampler;
pub mod score;
pub mod search;
pub mod stats;
