//! What the `milkrun` tool shares with the benchmarks: the demo catalog.

pub mod demo;
