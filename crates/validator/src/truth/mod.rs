//! Where truth comes from: the GFS analysis and forecast over NOMADS OPeNDAP, ERA5 and the
//! WeatherBench2 climatology as subset mirrors over HTTP, the local truth cache they are kept in,
//! and the data sources that resolve a dataset for a valid time (`docs/truth-data.md`).

pub mod cache;
pub mod gfs;
pub mod sources;
pub mod subset;
