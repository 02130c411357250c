//! Executes an event IR plan on inputs, sparse and event-driven, counting every operation.
