//! Which array of a store is which ERA5 variable (spec §12-13, §12-14): the names the reference
//! accepts for each variable (first found wins), and the GRIB attributes it checks when present.
//! A store that names a variable differently, or whose attributes say it is another quantity,
//! is read the way the reference reads it — or fails the lead the way it does.

use serde_json::Value;

/// Accepted array names of `variable`, in the order they are tried (§12-13).
pub fn accepted_names(variable: &str) -> &'static [&'static str] {
    match variable {
        "2t" => &["2t", "t2m", "temperature_2m", "2m_temperature"],
        "10u" => &["10u", "u10", "10m_u_component_of_wind"],
        "10v" => &["10v", "v10", "10m_v_component_of_wind"],
        "msl" => &["msl", "mean_sea_level_pressure", "sp"],
        "t" => &["t", "temperature"],
        "u" => &["u", "u_component_of_wind"],
        "v" => &["v", "v_component_of_wind"],
        "q" => &["q", "specific_humidity"],
        "z" => &["z", "geopotential"],
        _ => &[],
    }
}

/// The array of `variable` among `names`: the first accepted name present (the short name
/// itself for a variable without aliases).
pub fn resolve_name(variable: &str, names: &[String]) -> Option<String> {
    let accepted = accepted_names(variable);
    if accepted.is_empty() {
        return names.iter().find(|n| *n == variable).cloned();
    }
    accepted
        .iter()
        .find(|a| names.iter().any(|n| n == *a))
        .map(|a| (*a).to_string())
}

/// The GRIB parameter id each variable must carry if it carries one (§12-14).
pub fn grib_param_id(variable: &str) -> Option<i64> {
    Some(match variable {
        "2t" => 167,
        "10u" => 165,
        "10v" => 166,
        "msl" => 151,
        "t" => 130,
        "u" => 131,
        "v" => 132,
        "q" => 133,
        "z" => 129,
        _ => return None,
    })
}

/// An attribute as an integer, whether stored as a number or as text.
fn as_int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Why the attributes of the array read as `variable` say it is another quantity, if they do:
/// a `GRIB_paramId` other than the variable's, or for `2t`/`msl` a `GRIB_cfVarName` (else
/// `standard_name`) other than `t2m`/`msl`, compared case-insensitively (§12-14).
pub fn identity_error(variable: &str, attrs: &serde_json::Map<String, Value>) -> Option<String> {
    if let (Some(found), Some(expected)) = (attrs.get("GRIB_paramId"), grib_param_id(variable)) {
        if as_int(found) != Some(expected) {
            return Some(format!(
                "`{variable}` has GRIB_paramId {found}, expected {expected}"
            ));
        }
    }
    let cf_name = match variable {
        "2t" => "t2m",
        "msl" => "msl",
        _ => return None,
    };
    let (key, found) = match attrs.get("GRIB_cfVarName") {
        Some(v) => ("GRIB_cfVarName", v),
        None => ("standard_name", attrs.get("standard_name")?),
    };
    let text = found.as_str().unwrap_or_default();
    if text.trim().eq_ignore_ascii_case(cf_name) {
        None
    } else {
        Some(format!(
            "`{variable}` has {key} {found}, expected {cf_name}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_first_accepted_name_present_wins() {
        assert_eq!(
            resolve_name("2t", &names(&["t2m", "2m_temperature"])).unwrap(),
            "t2m"
        );
        assert_eq!(
            resolve_name("2t", &names(&["2m_temperature", "2t"])).unwrap(),
            "2t"
        );
        assert_eq!(resolve_name("msl", &names(&["sp"])).unwrap(), "sp");
        assert_eq!(
            resolve_name("z", &names(&["geopotential"])).unwrap(),
            "geopotential"
        );
        assert_eq!(
            resolve_name("q", &names(&["specific_humidity"])).unwrap(),
            "specific_humidity"
        );
        assert_eq!(
            resolve_name("10u", &names(&["10m_u_component_of_wind"])).unwrap(),
            "10m_u_component_of_wind"
        );
        assert!(resolve_name("t", &names(&["2t", "air_temperature"])).is_none());
        assert_eq!(resolve_name("other", &names(&["other"])).unwrap(), "other");
    }

    #[test]
    fn grib_attributes_must_name_the_same_quantity() {
        let attrs = |v: Value| v.as_object().unwrap().clone();
        assert!(identity_error("2t", &attrs(json!({}))).is_none());
        assert!(identity_error("2t", &attrs(json!({"GRIB_paramId": 167}))).is_none());
        assert!(identity_error("2t", &attrs(json!({"GRIB_paramId": "167"}))).is_none());
        let e = identity_error("2t", &attrs(json!({"GRIB_paramId": 168}))).unwrap();
        assert!(e.contains("GRIB_paramId 168, expected 167"), "{e}");
        assert!(identity_error("z", &attrs(json!({"GRIB_paramId": 129.0}))).is_none());
        assert!(identity_error("q", &attrs(json!({"GRIB_paramId": 130}))).is_some());
        // 2t and msl: GRIB_cfVarName first, else standard_name, case-insensitive.
        assert!(identity_error("2t", &attrs(json!({"GRIB_cfVarName": "T2M"}))).is_none());
        assert!(identity_error("msl", &attrs(json!({"standard_name": "MSL"}))).is_none());
        let e = identity_error("2t", &attrs(json!({"standard_name": "air_temperature"}))).unwrap();
        assert!(e.contains("standard_name"), "{e}");
        assert!(
            identity_error(
                "2t",
                &attrs(json!({"GRIB_cfVarName": "t2m", "standard_name": "air_temperature"}))
            )
            .is_none(),
            "GRIB_cfVarName takes precedence"
        );
        assert!(identity_error("msl", &attrs(json!({"GRIB_cfVarName": "sp"}))).is_some());
        // Other variables are not checked by name.
        assert!(identity_error("t", &attrs(json!({"standard_name": "air_temperature"}))).is_none());
    }
}
