//! ERA5 unit checks (spec §4.3 item 2, §12-15): the unit each variable must be in, compared after
//! trimming and lower-casing with the reference's equal spellings made equal. A missing `units`
//! attribute is accepted (`WEATHER_ALLOW_MISSING_MINER_UNITS`), `q` is not checked, any other
//! spelling fails the lead.

/// The expected unit of `variable` in its normalised spelling; `None` when it is not checked
/// (`q`, unknown variables).
pub fn expected_unit(variable: &str) -> Option<&'static str> {
    Some(match variable {
        "2t" | "t" => "k",
        "10u" | "10v" | "u" | "v" => "m s-1",
        "msl" => "pa",
        "z" => "m2 s-2",
        _ => return None,
    })
}

/// A `units` attribute trimmed, lower-cased and with the reference's equal spellings mapped onto
/// one: `kelvin`→`k`; `pascal`, `pascals`→`pa`; `m/s`, `m s**-1`, `m s^-1`→`m s-1`;
/// `m**2 s**-2`, `m^2 s^-2`, `m^2 s-2`→`m2 s-2`.
pub fn normalise_unit(units: &str) -> String {
    let u = units.trim().to_lowercase();
    match u.as_str() {
        "kelvin" => "k".into(),
        "pascal" | "pascals" => "pa".into(),
        "m/s" | "m s**-1" | "m s^-1" => "m s-1".into(),
        "m**2 s**-2" | "m^2 s^-2" | "m^2 s-2" => "m2 s-2".into(),
        _ => u,
    }
}

/// Check a `units` attribute: `Ok` when missing, not checked or equal after normalisation, else
/// the expected unit (normalised spelling).
pub fn check_units(variable: &str, units: Option<&str>) -> Result<(), &'static str> {
    let (Some(found), Some(expected)) = (units, expected_unit(variable)) else {
        return Ok(());
    };
    if normalise_unit(found) == expected {
        Ok(())
    } else {
        Err(expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every spelling §12-15 makes equal, and near misses it does not.
    #[test]
    fn units_are_compared_as_the_reference_compares_them() {
        for (var, ok) in [
            ("2t", vec!["K", " k ", "kelvin", "Kelvin", "KELVIN"]),
            ("t", vec!["K"]),
            ("msl", vec!["Pa", "pa", "pascal", "Pascals", "PA"]),
            ("10u", vec!["m s-1", "m/s", "m s**-1", "m s^-1", "M S-1"]),
            ("v", vec!["m s-1"]),
            (
                "z",
                vec!["m2 s-2", "m**2 s**-2", "m^2 s^-2", "m^2 s-2", "M2 S-2"],
            ),
        ] {
            for u in ok {
                assert_eq!(check_units(var, Some(u)), Ok(()), "{var} {u:?}");
            }
        }
        for (var, bad, expected) in [
            ("2t", "degC", "k"),
            ("msl", "hPa", "pa"),
            ("10u", "m.s-1", "m s-1"),
            ("10u", "km/h", "m s-1"),
            ("z", "m^2/s^2", "m2 s-2"),
            ("z", "m2/s2", "m2 s-2"),
            ("z", "m", "m2 s-2"),
        ] {
            assert_eq!(check_units(var, Some(bad)), Err(expected), "{var} {bad:?}");
        }
        assert_eq!(
            check_units("2t", None),
            Ok(()),
            "a missing attribute is accepted"
        );
        assert_eq!(
            check_units("q", Some("anything")),
            Ok(()),
            "q is not checked"
        );
        assert_eq!(check_units("other", Some("x")), Ok(()));
    }
}
