//! DAP2 binary data (`.dods` responses): the constrained DDS text, a `Data:` line, then the
//! values in XDR (big-endian) in declaration order. An array is preceded by its length twice;
//! 16-bit integers and scalar bytes take four bytes; byte arrays are padded to four; a Grid is
//! its array followed by its maps; a Structure its members in order.
//!
//! Every length is checked against the declaration and the bytes left before anything is
//! allocated, so a hostile or truncated body is a named [`XdrError`], never a panic.

use super::dds::{ArrayDecl, BaseType, Dds, Decl, SyntaxError};

/// Why a data response could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XdrError {
    /// The server answered a DAP error text instead of data.
    #[error("server error: {0}")]
    ServerError(String),
    /// No `Data:` line after the DDS.
    #[error("no `Data:` marker in the response")]
    NoData,
    /// The DDS header is malformed.
    #[error("bad DDS header: {0}")]
    Dds(#[from] SyntaxError),
    /// The body ends before `what` is complete.
    #[error("body truncated in `{what}`")]
    Truncated {
        /// The variable being read.
        what: String,
    },
    /// Lengths disagree with the declaration, or a limit is exceeded.
    #[error("bad data for `{what}`: {reason}")]
    Bad {
        /// The variable being read.
        what: String,
        /// What is wrong.
        reason: String,
    },
}

/// Decoded values of one array.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Float32 data as sent.
    F32(Vec<f32>),
    /// Every other numeric type, widened.
    F64(Vec<f64>),
    /// Strings and URLs.
    Text(Vec<String>),
}

impl Values {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Text(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as f64 (strings are NaN).
    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            Values::F32(v) => v.iter().map(|x| f64::from(*x)).collect(),
            Values::F64(v) => v.clone(),
            Values::Text(v) => vec![f64::NAN; v.len()],
        }
    }
}

/// One decoded variable: a top-level array (`name`), a Grid's array (`grid`) or map
/// (`grid.map`), or a Structure member (`struct.member`).
#[derive(Debug, Clone, PartialEq)]
pub struct DapVar {
    /// Dotted path.
    pub name: String,
    /// Its declaration (dimension names filled from the maps for a Grid's array).
    pub decl: ArrayDecl,
    /// Its values.
    pub values: Values,
}

/// Split a `.dods` body into its DDS and its data and decode every variable.
/// `max_elements` bounds any single array.
pub fn decode(body: &[u8], max_elements: usize) -> Result<(Dds, Vec<DapVar>), XdrError> {
    let head = String::from_utf8_lossy(&body[..body.len().min(256)]);
    if head.trim_start().starts_with("Error") {
        let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
        return Err(XdrError::ServerError(text.trim().to_owned()));
    }
    let marker = find_marker(body).ok_or(XdrError::NoData)?;
    let dds_text = std::str::from_utf8(&body[..marker.0]).map_err(|_| SyntaxError {
        what: "DDS is not UTF-8".into(),
    })?;
    let dds = Dds::parse(dds_text)?;
    let mut r = Reader {
        buf: &body[marker.1..],
        max_elements,
    };
    let mut out = Vec::new();
    for decl in &dds.decls {
        r.decl(decl, "", &mut out)?;
    }
    Ok((dds, out))
}

/// Start of the `Data:` line and the first byte after it.
fn find_marker(body: &[u8]) -> Option<(usize, usize)> {
    const M: &[u8] = b"Data:\n";
    let limit = body.len().min(1 << 20);
    (0..limit.saturating_sub(M.len() - 1)).find_map(|i| {
        let at_line_start = i == 0 || body[i - 1] == b'\n';
        (at_line_start && body[i..].starts_with(M)).then_some((i, i + M.len()))
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    max_elements: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], XdrError> {
        if self.buf.len() < n {
            return Err(XdrError::Truncated { what: what.into() });
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u32(&mut self, what: &str) -> Result<u32, XdrError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn decl(&mut self, decl: &Decl, prefix: &str, out: &mut Vec<DapVar>) -> Result<(), XdrError> {
        match decl {
            Decl::Array(a) => {
                let values = self.array(a, &format!("{prefix}{}", a.name))?;
                out.push(DapVar {
                    name: format!("{prefix}{}", a.name),
                    decl: a.clone(),
                    values,
                });
            }
            Decl::Grid { name, array, maps } => {
                let path = format!("{prefix}{name}");
                let mut a = array.clone();
                for (dim, map) in a.dims.iter_mut().zip(maps) {
                    if dim.0.is_empty() {
                        dim.0 = map.name.clone();
                    }
                }
                let values = self.array(&a, &path)?;
                out.push(DapVar {
                    name: path.clone(),
                    decl: a,
                    values,
                });
                for m in maps {
                    let mpath = format!("{path}.{}", m.name);
                    let values = self.array(m, &mpath)?;
                    out.push(DapVar {
                        name: mpath,
                        decl: m.clone(),
                        values,
                    });
                }
            }
            Decl::Structure { name, members } => {
                let p = format!("{prefix}{name}.");
                for m in members {
                    self.decl(m, &p, out)?;
                }
            }
        }
        Ok(())
    }

    fn array(&mut self, a: &ArrayDecl, what: &str) -> Result<Values, XdrError> {
        let bad = |reason: String| XdrError::Bad {
            what: what.into(),
            reason,
        };
        let n = a
            .element_count()
            .filter(|n| *n <= self.max_elements)
            .ok_or_else(|| bad(format!("more than {} elements", self.max_elements)))?;
        if !a.dims.is_empty() {
            if matches!(a.ty, BaseType::String | BaseType::Url) {
                return Err(bad("string arrays are not supported".into()));
            }
            let n1 = self.u32(what)? as usize;
            let n2 = self.u32(what)? as usize;
            if n1 != n || n2 != n {
                return Err(bad(format!("length words {n1}/{n2}, declared {n}")));
            }
        }
        let width = match a.ty {
            BaseType::Float64 => 8,
            BaseType::Byte if !a.dims.is_empty() => {
                let padded = n.div_ceil(4) * 4;
                let raw = self.take(padded, what)?;
                return Ok(Values::F64(
                    raw[..n].iter().map(|b| f64::from(*b)).collect(),
                ));
            }
            BaseType::String | BaseType::Url => return self.strings(n, what).map(Values::Text),
            _ => 4,
        };
        let bytes = n
            .checked_mul(width)
            .ok_or_else(|| bad("size overflow".into()))?;
        let raw = self.take(bytes, what)?;
        let words = raw.chunks_exact(width);
        Ok(match a.ty {
            BaseType::Float32 => Values::F32(
                words
                    .map(|w| f32::from_be_bytes([w[0], w[1], w[2], w[3]]))
                    .collect(),
            ),
            BaseType::Float64 => Values::F64(
                words
                    .map(|w| f64::from_be_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]))
                    .collect(),
            ),
            BaseType::Int16 | BaseType::Int32 => Values::F64(
                words
                    .map(|w| f64::from(i32::from_be_bytes([w[0], w[1], w[2], w[3]])))
                    .collect(),
            ),
            _ => Values::F64(
                words
                    .map(|w| f64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]])))
                    .collect(),
            ),
        })
    }

    fn strings(&mut self, n: usize, what: &str) -> Result<Vec<String>, XdrError> {
        let mut out = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let len = self.u32(what)? as usize;
            let raw = self.take(len.div_ceil(4) * 4, what)?;
            out.push(String::from_utf8_lossy(&raw[..len]).into_owned());
        }
        Ok(out)
    }
}
