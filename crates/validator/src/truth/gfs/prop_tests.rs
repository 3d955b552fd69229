//! Property tests of the OPeNDAP parsers (issue 20): a truth server's DDS and DAS text and its
//! `.dods` body (DDS + XDR). Arbitrary and mutated answers (seeded from the GrADS-style and
//! pydap-style fixtures) end in a parsed value or a named [`SyntaxError`]/[`XdrError`], within a
//! time bound and with allocation bounded by the body, never beyond the element limit; every
//! cut of a valid body is refused.

use gaia_testkit::hostile::{bounded, config, hostile, Limits};
use proptest::prelude::*;

use super::dds::{Das, Dds, Decl, SyntaxError};
use super::tests::{grads_body, GRADS_DDS};
use super::xdr::{decode, XdrError};

/// A pydap-style DDS (anonymous array dimensions, named by the maps).
const PYDAP_DDS: &str = "Dataset {\n Grid {\n Array:\n Float32 hgtprs[1][2][3];\n Maps:\n \
                         Float64 time[time = 1];\n Float64 lev[lev = 2];\n Float64 lat[lat = 3];\n \
                         } hgtprs;\n Structure { Int32 a; String s; } st;\n} x;";

/// A DAS as GrADS/pydap serve it.
const DAS: &str = r#"Attributes {
    NC_GLOBAL { String title "GFS 0.25 deg"; }
    tmp2m {
        Float32 _FillValue 9.999E20;
        Float32 missing_value 9.999E20;
        String long_name "** 2 m above ground temperature [k] ";
        nested { Int32 a 1, 2; }
    }
}"#;

const MAX_ELEMENTS: usize = 100_000;

fn text_seeds() -> Vec<Vec<u8>> {
    vec![GRADS_DDS.into(), PYDAP_DDS.into(), DAS.into()]
}

/// Number of declarations, nested structures included.
fn walk(decls: &[Decl]) -> usize {
    decls
        .iter()
        .map(|d| match d {
            Decl::Structure { members, .. } => 1 + walk(members),
            _ => 1,
        })
        .sum()
}

proptest! {
    #![proptest_config(config(20000))]

    /// DDS and DAS text: parsed or a `SyntaxError` saying what is wrong.
    #[test]
    fn prop_hostile_dds_and_das_parse_or_are_refused(bytes in hostile(text_seeds())) {
        let text = String::from_utf8_lossy(&bytes);
        let dds = bounded("Dds::parse", &bytes, Limits::default(), || Dds::parse(&text))?;
        match dds {
            Ok(dds) => {
                prop_assert!(walk(&dds.decls) >= dds.decls.len());
                for name in ["tmp2m", "hgtprs", "time", "x"] {
                    if let Some(a) = dds.array(name) {
                        let _ = a.element_count();
                    }
                }
            }
            Err(SyntaxError { what }) => prop_assert!(!what.is_empty()),
        }
        let das = bounded("Das::parse", &bytes, Limits::default(), || Das::parse(&text))?;
        if let Ok(das) = das {
            let _ = das.number("tmp2m", "missing_value");
        }
    }

    /// A `.dods` body: variables within the element limit, or a named `XdrError`; allocation is
    /// bounded by the body and the limit, not by any length the body claims.
    #[test]
    fn prop_hostile_dods_bodies_decode_or_are_refused(bytes in hostile(vec![grads_body()])) {
        let limits = Limits { peak_bytes: 16 * bytes.len() + 16 * MAX_ELEMENTS + (1 << 20), ..Limits::default() };
        let out = bounded("xdr::decode", &bytes, limits, || decode(&bytes, MAX_ELEMENTS))?;
        match out {
            Ok((_, vars)) => {
                for v in vars {
                    prop_assert!(v.values.len() <= MAX_ELEMENTS);
                    let _ = v.values.to_f64();
                }
            }
            Err(XdrError::Truncated { what } | XdrError::Bad { what, .. }) => prop_assert!(!what.is_empty()),
            Err(_) => {}
        }
    }

    /// Every strict cut of a valid body after its `Data:` line is refused as truncated.
    #[test]
    fn prop_cut_bodies_are_truncated(cut in 0usize..1000) {
        let body = grads_body();
        let data_start = GRADS_DDS.len() + "Data:\n".len();
        let at = data_start + cut % (body.len() - data_start);
        prop_assert!(matches!(decode(&body[..at], MAX_ELEMENTS), Err(XdrError::Truncated { .. })), "cut at {at}");
    }
}
