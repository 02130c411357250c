//! Network description in, event IR out: load, lower, validate, optimise, print and emit.
