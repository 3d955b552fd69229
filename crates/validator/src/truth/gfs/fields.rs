//! The GFS variables the scorer reads, their names on the NOMADS GrADS-DODS server and the
//! unit conversion each needs (spec §3.1): `tmp2m→2t`, `prmslmsl→msl`, `ugrd10m→10u`,
//! `vgrd10m→10v`, `tmpprs→t`, `ugrdprs→u`, `vgrdprs→v`, `spfhprs→q`, and `hgtprs` (geopotential
//! height, gpm) × g = 9.80665 → `z` (geopotential, m²/s²).
//!
//! A [`FieldSet`] says which fields one fetch downloads, written as a list such as
//! `2t,msl,10u,10v,z@500` (the Day-1 default): a surface name, an atmospheric name at one level
//! (`z@500`), an atmospheric name alone for all 13 levels, or `all`.

/// Standard gravity: geopotential height (gpm) → geopotential (m²/s²).
pub const GRAVITY: f64 = 9.80665;

/// The 13 pressure levels (hPa) an atmospheric field can be fetched at.
pub const PRESSURE_LEVELS_HPA: [u32; 13] = [
    50, 100, 150, 200, 250, 300, 400, 500, 600, 700, 850, 925, 1000,
];

/// One scorer variable and its source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GfsVariable {
    /// The scorer's name.
    pub name: &'static str,
    /// The name on the GrADS-DODS server.
    pub remote: &'static str,
    /// Whether it has a pressure-level dimension.
    pub atmospheric: bool,
    /// Units of the converted values.
    pub units: &'static str,
    /// Multiplier applied to the served values.
    pub scale: f64,
}

/// Every variable, surface first.
pub const VARIABLES: [GfsVariable; 9] = [
    var("2t", "tmp2m", false, "K", 1.0),
    var("msl", "prmslmsl", false, "Pa", 1.0),
    var("10u", "ugrd10m", false, "m s-1", 1.0),
    var("10v", "vgrd10m", false, "m s-1", 1.0),
    var("z", "hgtprs", true, "m2 s-2", GRAVITY),
    var("t", "tmpprs", true, "K", 1.0),
    var("u", "ugrdprs", true, "m s-1", 1.0),
    var("v", "vgrdprs", true, "m s-1", 1.0),
    var("q", "spfhprs", true, "kg kg-1", 1.0),
];

const fn var(
    name: &'static str,
    remote: &'static str,
    atmospheric: bool,
    units: &'static str,
    scale: f64,
) -> GfsVariable {
    GfsVariable {
        name,
        remote,
        atmospheric,
        units,
        scale,
    }
}

/// The variable called `name` by the scorer.
pub fn variable(name: &str) -> Option<GfsVariable> {
    VARIABLES.iter().copied().find(|v| v.name == name)
}

/// A field list that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("GFS field list {list:?}: {reason}")]
pub struct FieldListError {
    /// The list as given.
    pub list: String,
    /// What is wrong.
    pub reason: String,
}

/// The fields of one fetch: variables in [`VARIABLES`] order, each with its levels (empty for a
/// surface variable), levels ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSet {
    entries: Vec<(GfsVariable, Vec<u32>)>,
}

impl FieldSet {
    /// The Day-1 default: `2t,msl,10u,10v,z@500`.
    pub fn day1() -> Self {
        Self::parse("2t,msl,10u,10v,z@500").unwrap_or_else(|_| Self { entries: vec![] })
    }

    /// Parse a list (see the module documentation).
    pub fn parse(list: &str) -> Result<Self, FieldListError> {
        let err = |reason: String| FieldListError {
            list: list.into(),
            reason,
        };
        let mut wanted: Vec<(GfsVariable, Vec<u32>)> = Vec::new();
        let mut add = |v: GfsVariable, levels: &[u32]| {
            match wanted.iter_mut().find(|(w, _)| w.name == v.name) {
                Some((_, l)) => l.extend_from_slice(levels),
                None => wanted.push((v, levels.to_vec())),
            };
        };
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item.eq_ignore_ascii_case("all") {
                for v in VARIABLES {
                    add(
                        v,
                        if v.atmospheric {
                            &PRESSURE_LEVELS_HPA
                        } else {
                            &[]
                        },
                    );
                }
                continue;
            }
            let (name, level) = match item.split_once('@') {
                Some((n, l)) => (n, Some(l)),
                None => (item, None),
            };
            let v = variable(name).ok_or_else(|| err(format!("unknown variable `{name}`")))?;
            match (v.atmospheric, level) {
                (false, None) => add(v, &[]),
                (false, Some(_)) => return Err(err(format!("`{name}` has no levels"))),
                (true, None) => add(v, &PRESSURE_LEVELS_HPA),
                (true, Some(l)) => {
                    let l: u32 = l
                        .parse()
                        .ok()
                        .filter(|l| PRESSURE_LEVELS_HPA.contains(l))
                        .ok_or_else(|| err(format!("`{item}`: level not one of the 13")))?;
                    add(v, &[l]);
                }
            }
        }
        if wanted.is_empty() {
            return Err(err("no fields".into()));
        }
        let mut entries: Vec<_> = VARIABLES
            .iter()
            .filter_map(|v| wanted.iter().find(|(w, _)| w.name == v.name).cloned())
            .collect();
        for (_, levels) in &mut entries {
            levels.sort_unstable();
            levels.dedup();
        }
        Ok(Self { entries })
    }

    /// Variables and their levels.
    pub fn entries(&self) -> &[(GfsVariable, Vec<u32>)] {
        &self.entries
    }

    /// All levels any atmospheric variable needs, ascending.
    pub fn levels(&self) -> Vec<u32> {
        let mut all: Vec<u32> = self.entries.iter().flat_map(|(_, l)| l.clone()).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// A canonical text form (used in cache names).
    pub fn canonical(&self) -> String {
        self.entries
            .iter()
            .map(|(v, levels)| {
                if levels.is_empty() {
                    v.name.to_string()
                } else {
                    let l: Vec<String> = levels.iter().map(u32::to_string).collect();
                    format!("{}@{}", v.name, l.join("+"))
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}
