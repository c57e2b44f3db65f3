//! EventBridge logic that needs no I/O: event patterns (matching events to
//! rules) and target input shaping (`InputPath`, `InputTransformer`).

pub mod input_transform;
pub mod pattern;
