//! AutoSNN (autosnn.md): the search space's encodings, the weight-sharing supernet, spike- and
//! energy-aware fitness, and the evolutionary search with its Pareto outputs.

pub mod counting;
pub mod evolution;
pub mod plot;
pub mod search;
pub mod space;
pub mod supernet;
