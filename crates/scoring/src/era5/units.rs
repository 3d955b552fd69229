//! ERA5 unit checks (spec §4.3 item 2): the unit each variable must be in, and the spellings of
//! it that xarray/CF stores use. A missing `units` attribute is tolerated
//! (`WEATHER_ALLOW_MISSING_MINER_UNITS`); a different unit is an error for that variable.

/// The accepted spellings of the expected unit of `variable`; `None` for an unknown variable.
pub fn accepted_units(variable: &str) -> Option<&'static [&'static str]> {
    Some(match variable {
        "2t" | "t" => &["K", "kelvin", "Kelvin"],
        "10u" | "10v" | "u" | "v" => &["m s-1", "m s**-1", "m/s", "m s^-1", "m.s-1"],
        "msl" => &["Pa", "pascal"],
        "z" => &[
            "m2 s-2",
            "m**2 s**-2",
            "m^2/s^2",
            "m^2 s^-2",
            "m2/s2",
            "m**2/s**2",
        ],
        "q" => &[
            "1",
            "kg kg-1",
            "kg kg**-1",
            "kg/kg",
            "dimensionless",
            "-",
            "",
        ],
        _ => return None,
    })
}

/// Check a `units` attribute: `Ok` when missing or accepted, else the expected canonical unit.
pub fn check_units(variable: &str, units: Option<&str>) -> Result<(), &'static str> {
    let Some(found) = units else { return Ok(()) };
    let Some(accepted) = accepted_units(variable) else {
        return Ok(());
    };
    if accepted.iter().any(|a| *a == found.trim()) {
        Ok(())
    } else {
        Err(accepted[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_rules() {
        assert!(check_units("2t", Some("K")).is_ok());
        assert!(check_units("2t", None).is_ok());
        assert_eq!(check_units("2t", Some("degC")), Err("K"));
        assert!(check_units("z", Some("m**2 s**-2")).is_ok());
        assert_eq!(check_units("msl", Some("hPa")), Err("Pa"));
        assert!(check_units("q", Some("kg kg-1")).is_ok());
        assert!(check_units("10u", Some("m s-1")).is_ok());
        assert!(check_units("other", Some("x")).is_ok());
        assert!(accepted_units("other").is_none());
    }
}
