//! Putting fields side by side: linear interpolation onto the truth grid (xarray semantics) and
//! selection of the time step and pressure level with the production tolerances.

pub mod grid_interp;
pub mod interp;
pub mod select;
pub mod vertical;

pub use grid_interp::{FieldRows, GridInterp};
pub use interp::{interp_to_grid, stencils, InterpError, Stencil};
pub use select::{nearest_level, nearest_time, SelectError};
pub use vertical::{interp_levels, LevelPlan};
