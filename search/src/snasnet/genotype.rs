//! The JSON form of a SNASNet cell genotype, which lives with the genotype in
//! `snnc_compiler::arch::snasnet`; re-exported under the search's own path.

pub use snnc_compiler::arch::snasnet::{GenotypeError, genotype_from_json, genotype_to_json};
