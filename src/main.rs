//! The `snnc` command line: one module per subcommand.
fn main() {}
