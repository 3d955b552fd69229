//! Typed records of every table, and the status enums stored as text.

pub mod chain;
pub mod ledger;
pub mod operator;
pub mod status;
pub mod weather;
