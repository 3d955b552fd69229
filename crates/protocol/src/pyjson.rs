//! Python-compatible JSON text: exactly what `json.dumps(obj, sort_keys=True, indent=4)` prints
//! (default `ensure_ascii=True`, separators `","` + newline and `": "`, no trailing newline).
//!
//! The miner signs and hashes these bytes (spec §2.1 step 4), so a Rust-built manifest is only
//! accepted by Python validators if it is byte-identical.

use std::fmt::Write as _;

use serde_json::Value;

/// Serialise `value` as Python's `json.dumps(value, sort_keys=True, indent=4)` would.
pub fn dumps_sorted_indent4(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

fn indent(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("    ");
    }
}

fn write_value(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => {
                let _ = write!(out, "{i}");
            }
            (None, Some(u), _) => {
                let _ = write!(out, "{u}");
            }
            (None, None, Some(f)) => out.push_str(&py_float_repr(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                indent(out, level + 1);
                write_value(out, item, level + 1);
            }
            indent(out, level);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            // Python sorts str keys by code point; UTF-8 byte order is the same order.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (k, key) in keys.into_iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                indent(out, level + 1);
                write_string(out, key);
                out.push_str(": ");
                write_value(out, &map[key], level + 1);
            }
            indent(out, level);
            out.push('}');
        }
    }
}

/// A JSON string literal with Python's `ensure_ascii` escaping: `\"`, `\\`, `\n`, `\r`, `\t`,
/// `\b`, `\f`, and `\uXXXX` (lower-case hex, UTF-16 surrogate pairs) for everything outside
/// printable ASCII (space to `~`).
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: shortest round-trip digits, exponent form when the decimal exponent
/// is below −4 or at least 16, `Infinity`/`-Infinity`/`NaN` as `json.dumps` writes them.
pub fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = mantissa
        .strip_prefix('-')
        .map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1; // position of the decimal point within `digits`
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let mant = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{esign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_repr_matches_python() {
        // Expected strings are Python 3 `repr` outputs.
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-1.25e-7, "-1.25e-07"),
            (1e300, "1e+300"),
            (0.0, "0.0"),
            (100.0, "100.0"),
        ];
        for (x, want) in cases {
            assert_eq!(py_float_repr(x), want, "{x}");
        }
        assert_eq!(py_float_repr(f64::NAN), "NaN");
        assert_eq!(py_float_repr(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn layout_and_escaping() {
        let v = json!({"b": [1, {}, []], "a": "é\u{1F600}\"\\\n\u{7f}\u{1}", "c": {"y": null, "x": true}});
        let want = "{\n    \"a\": \"\\u00e9\\ud83d\\ude00\\\"\\\\\\n\\u007f\\u0001\",\n    \"b\": [\n        1,\n        {},\n        []\n    ],\n    \"c\": {\n        \"x\": true,\n        \"y\": null\n    }\n}";
        assert_eq!(dumps_sorted_indent4(&v), want);
        assert_eq!(dumps_sorted_indent4(&json!({})), "{}");
        assert_eq!(dumps_sorted_indent4(&json!(-3)), "-3");
        assert_eq!(
            dumps_sorted_indent4(&json!(u64::MAX)),
            "18446744073709551615"
        );
        assert_eq!(dumps_sorted_indent4(&json!(2.5)), "2.5");
    }
}
