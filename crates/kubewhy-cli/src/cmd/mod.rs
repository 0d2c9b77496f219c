//! The subcommands, one module each.

pub mod check;
pub mod completion;
pub mod explain;
pub mod man;
