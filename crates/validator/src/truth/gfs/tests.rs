//! Unit tests of the DAP2 parsers, the field list and the grid handling (the loopback-server
//! tests are in `tests/gfs_opendap.rs`).

use chrono::{TimeZone, Utc};

use super::dds::{AttrValue, BaseType, Das, Dds, Decl};
use super::fields::FieldSet;
use super::grid::{grads_days_to_utc, level_indices, step_index, GridError, Orientation};
use super::xdr::{decode, Values, XdrError};

pub(super) const GRADS_DDS: &str = "Dataset {
    Float64 time[time = 3];
    Grid {
     ARRAY:
        Float32 tmp2m[time = 1][lat = 2][lon = 2];
     MAPS:
        Float64 time[time = 1];
        Float64 lat[lat = 2];
        Float64 lon[lon = 2];
    } tmp2m;
} gfs_0p25_12z;
";

fn be32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}
fn be64(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}
fn len2(n: u32) -> Vec<u8> {
    [n.to_be_bytes(), n.to_be_bytes()].concat()
}

pub(super) fn grads_body() -> Vec<u8> {
    let mut b = GRADS_DDS.as_bytes().to_vec();
    b.extend_from_slice(b"Data:\n");
    b.extend(len2(3));
    b.extend(be64(&[739555.5, 739555.75, 739555.625]));
    b.extend(len2(4));
    b.extend(be32(&[1.0, 2.0, 9.999e20, 4.0]));
    b.extend(len2(1));
    b.extend(be64(&[739555.5]));
    b.extend(len2(2));
    b.extend(be64(&[-90.0, 90.0]));
    b.extend(len2(2));
    b.extend(be64(&[0.0, 180.0]));
    b
}

#[test]
fn grads_style_dds_parses_with_grids_and_named_dims() {
    let dds = Dds::parse(GRADS_DDS).unwrap();
    assert_eq!(dds.name, "gfs_0p25_12z");
    assert_eq!(dds.decls.len(), 2);
    let a = dds.array("tmp2m").unwrap();
    assert_eq!(a.ty, BaseType::Float32);
    assert_eq!(
        a.dims,
        vec![("time".into(), 1), ("lat".into(), 2), ("lon".into(), 2)]
    );
    assert!(matches!(&dds.decls[1], Decl::Grid { maps, .. } if maps.len() == 3));
}

#[test]
fn pydap_style_anonymous_grid_dims_take_the_map_names() {
    let text = "Dataset {\n Grid {\n Array:\n Float32 hgtprs[1][2][3];\n Maps:\n \
                Float64 time[time = 1];\n Float64 lev[lev = 2];\n Float64 lat[lat = 3];\n \
                } hgtprs;\n} x;";
    let a = Dds::parse(text).unwrap().array("hgtprs").unwrap();
    let names: Vec<&str> = a.dims.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(names, ["time", "lev", "lat"]);
    assert_eq!(a.element_count(), Some(6));
}

#[test]
fn malformed_dds_is_an_error_not_a_panic() {
    for bad in [
        "",
        "Dataset {",
        "Dataset { Float32 x[lat = ]; } d;",
        "Dataset { Foo x; } d;",
        "Dataset { Sequence { Int32 a; } s; } d;",
        "Dataset { Float32 x[lat = 99999999999999999999999]; } d;",
        "Dataset { String s \"unterminated",
    ] {
        assert!(Dds::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn das_gives_missing_values_and_skips_nested_containers() {
    let text = r#"Attributes {
    NC_GLOBAL { String title "GFS 0.25 deg"; }
    tmp2m {
        Float32 _FillValue 9.999E20;
        Float32 missing_value 9.999E20;
        String long_name "** 2 m above ground temperature [k] ";
        nested { Int32 a 1, 2; }
    }
}"#;
    let das = Das::parse(text).unwrap();
    assert_eq!(das.number("tmp2m", "missing_value"), Some(9.999e20));
    assert_eq!(
        das.vars["tmp2m"]["long_name"],
        vec![AttrValue::Text(
            "** 2 m above ground temperature [k] ".into()
        )]
    );
    assert_eq!(das.number("tmp2m", "nope"), None);
    assert!(Das::parse("Attributes { x { Float32 a 1 } }").is_err());
}

#[test]
fn xdr_decodes_arrays_grids_and_maps_in_order() {
    let (_, vars) = decode(&grads_body(), 1000).unwrap();
    let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        ["time", "tmp2m", "tmp2m.time", "tmp2m.lat", "tmp2m.lon"]
    );
    assert_eq!(vars[1].values, Values::F32(vec![1.0, 2.0, 9.999e20, 4.0]));
    assert_eq!(vars[3].values, Values::F64(vec![-90.0, 90.0]));
}

#[test]
fn xdr_int32_bytes_and_strings() {
    let mut b =
        b"Dataset {\n Int32 i[i = 2];\n Byte b[b = 3];\n Int16 s;\n String name;\n} d;\nData:\n"
            .to_vec();
    b.extend(len2(2));
    b.extend([(-5i32).to_be_bytes(), 7i32.to_be_bytes()].concat());
    b.extend(len2(3));
    b.extend([1, 2, 3, 0]);
    b.extend((-2i32).to_be_bytes());
    b.extend(5u32.to_be_bytes());
    b.extend(b"hello\0\0\0");
    let (_, vars) = decode(&b, 100).unwrap();
    assert_eq!(vars[0].values, Values::F64(vec![-5.0, 7.0]));
    assert_eq!(vars[1].values, Values::F64(vec![1.0, 2.0, 3.0]));
    assert_eq!(vars[2].values, Values::F64(vec![-2.0]));
    assert_eq!(vars[3].values, Values::Text(vec!["hello".into()]));
}

#[test]
fn truncated_lying_and_oversized_bodies_are_named_errors() {
    let body = grads_body();
    for cut in [body.len() - 1, body.len() - 20, GRADS_DDS.len() + 8] {
        let err = decode(&body[..cut], 1000).unwrap_err();
        assert!(matches!(err, XdrError::Truncated { .. }), "{cut}: {err}");
    }
    let mut lying = grads_body();
    let at = GRADS_DDS.len() + 6;
    lying[at..at + 4].copy_from_slice(&1_000_000u32.to_be_bytes());
    let err = decode(&lying, 10_000_000).unwrap_err();
    assert!(
        matches!(&err, XdrError::Bad { what, .. } if what == "time"),
        "{err}"
    );
    let err = decode(&grads_body(), 2).unwrap_err();
    assert!(err.to_string().contains("more than 2 elements"), "{err}");
    assert_eq!(
        decode(b"<html>oops</html>", 10).unwrap_err(),
        XdrError::NoData
    );
    let err = decode(
        b"Error {\n code = 0;\n message = \"x is not an available dataset\";\n};",
        10,
    )
    .unwrap_err();
    assert!(matches!(err, XdrError::ServerError(m) if m.contains("not an available")));
}

#[test]
fn field_lists_parse_and_reject_nonsense() {
    let d = FieldSet::day1();
    assert_eq!(d.canonical(), "2t,msl,10u,10v,z@500");
    assert_eq!(d.levels(), vec![500]);
    let all = FieldSet::parse("all").unwrap();
    assert_eq!(all.entries().len(), 9);
    assert_eq!(all.levels().len(), 13);
    let mixed = FieldSet::parse("z@850, t@500 ,z@500,2t").unwrap();
    assert_eq!(mixed.canonical(), "2t,z@500+850,t@500");
    assert_eq!(mixed.levels(), vec![500, 850]);
    for bad in ["", "foo", "2t@500", "z@123", "z@x"] {
        assert!(FieldSet::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn step_is_found_on_an_unordered_axis_relative_to_its_start() {
    // 2026-11-01 12Z in GrADS days (proleptic Gregorian, days since 0001-01-01).
    let cycle = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
    let start =
        (cycle - Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap()).num_seconds() as f64 / 86_400.0;
    assert_eq!(grads_days_to_utc(start), Some(cycle));
    let axis = [start + 0.5, start + 0.25, start, start + 0.125];
    assert_eq!(step_index(&axis, cycle, 0).unwrap(), 2);
    assert_eq!(step_index(&axis, cycle, 12).unwrap(), 0);
    assert_eq!(step_index(&axis, cycle, 3).unwrap(), 3);
    // The two-day calendar disagreement on year 1 is tolerated.
    let shifted: Vec<f64> = axis.iter().map(|t| t + 2.0).collect();
    assert_eq!(step_index(&shifted, cycle, 12).unwrap(), 0);
    assert!(matches!(
        step_index(&axis, cycle, 9),
        Err(GridError::NoStep { step_hours: 9, .. })
    ));
    let other_day: Vec<f64> = axis.iter().map(|t| t + 10.0).collect();
    assert!(matches!(
        step_index(&other_day, cycle, 0),
        Err(GridError::WrongCycle { .. })
    ));
    assert!(step_index(&[f64::NAN], cycle, 0).is_err());
    assert!(step_index(&[], cycle, 0).is_err());
}

#[test]
fn levels_are_matched_in_any_served_order() {
    let lev = [1000.0, 975.0, 500.0, 50.0];
    assert_eq!(
        level_indices(&lev, &[50, 500, 1000]).unwrap(),
        vec![3, 2, 0]
    );
    assert!(matches!(
        level_indices(&lev, &[850]),
        Err(GridError::NoLevel { level: 850, .. })
    ));
}

#[test]
fn planes_are_reoriented_scaled_and_missing_values_become_nan() {
    // Served: lat ascending (-10, 0, 10), lon -180..90 step 90.
    let lat = [-10.0, 0.0, 10.0];
    let lon = [-180.0, -90.0, 0.0, 90.0];
    let o = Orientation::new(&lat, &lon).unwrap();
    assert_eq!(o.lat, vec![10.0, 0.0, -10.0]);
    assert_eq!(o.lon, vec![0.0, 90.0, 180.0, 270.0]);
    let served: Vec<f64> = (0..12).map(f64::from).collect();
    let mut with_missing = served.clone();
    with_missing[11] = 9.999e20; // lat 10, lon 90
    with_missing[0] = -1.0; // a declared missing value
    let out = o.apply(&with_missing, &[-1.0], 2.0);
    // Output row 0 = served row 2 (lat 10): served cols 2,3,0,1 -> values 10, 11, 8, 9.
    assert_eq!(out[0], 20.0);
    assert_eq!(out[4..8], [12.0, 14.0, 8.0, 10.0]);
    assert!(out[1].is_nan());
    assert_eq!(out[2..4], [16.0, 18.0]);
    // Output row 2 = served row 0 (lat -10): cols 2,3,0,1 -> 2, 3, missing, 1.
    assert_eq!(out[8..10], [4.0, 6.0]);
    assert!(out[10].is_nan());
    assert_eq!(out[11], 2.0);
    assert!(Orientation::new(&[], &lon).is_err());
    assert!(Orientation::new(&[95.0], &lon).is_err());
    // A short plane never panics.
    assert!(o.apply(&[1.0], &[], 1.0)[5].is_nan());
}

#[test]
fn products_map_to_cycles_steps_and_nomads_urls() {
    use super::{GfsFetcher, GfsOptions, GfsProduct};
    let init = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let f = GfsFetcher::new("/tmp/x".into(), GfsOptions::default()).unwrap();
    let noon = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
    assert_eq!(
        f.cycle_and_step(GfsProduct::Analysis, init).unwrap(),
        (noon, 0)
    );
    assert_eq!(
        f.cycle_and_step(GfsProduct::Forecast, init).unwrap(),
        (init, 12)
    );
    assert_eq!(
        GfsFetcher::dataset_url("https://nomads.ncep.noaa.gov/dods/gfs_0p25/", noon),
        "https://nomads.ncep.noaa.gov/dods/gfs_0p25/gfs20261101/gfs_0p25_12z"
    );
    let a = f.store_path("http://h/dods/gfs_0p25", noon, 0);
    let name = a.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("gfs-gfs_0p25-2026110112-f000-") && name.ends_with(".zarr"),
        "{name}"
    );
    // Another field list never reuses this store.
    let all = GfsFetcher::new(
        "/tmp/x".into(),
        GfsOptions {
            fields: FieldSet::parse("all").unwrap(),
            ..GfsOptions::default()
        },
    )
    .unwrap();
    assert_ne!(all.store_path("http://h/dods/gfs_0p25", noon, 0), a);
    let odd = |lead: f64| {
        GfsFetcher::new(
            "/tmp/x".into(),
            GfsOptions {
                lead_hours: lead,
                ..GfsOptions::default()
            },
        )
        .unwrap()
        .cycle_and_step(GfsProduct::Analysis, init)
    };
    assert!(odd(12.5).is_err());
    assert!(odd(9.0).is_err(), "09Z is not a GFS cycle");
    assert!(odd(-6.0).is_err());
}
