//! Handler sets, one module per task family.

pub mod weather;

use super::HandlerRegistry;

/// Register every handler the validator knows.
pub fn register_all(registry: &mut HandlerRegistry) {
    weather::register(registry);
}
