//! Checking the live runtime against what this client encodes, from `state_getMetadata` (V14).
//!
//! The client builds `SubtensorModule.set_weights` as pallet 7, call 0 with the fields `netuid,
//! dests, weights, version_key`, and signs the transaction extensions of chain.md §5.3
//! ([`super::extrinsic`]). Before the first submission under a runtime version the online chain
//! reads the metadata and refuses ([`MetadataError::Mismatch`]) when the pallet or call index, the
//! call's field names, or the list of extensions that carry data differ. Extensions whose explicit
//! and implicit types are both empty (no bytes; `PhantomData` is the unit tuple in scale-info)
//! may come and go; every other one must be exactly [`EXPECTED_EXTENSIONS`], in order.
//!
//! Only what the check needs is kept; the rest of the V14 layout (storage entries, constants,
//! docs) is read past. Counts are bounded by the remaining input, so a hostile length cannot
//! allocate more than the response size.

use parity_scale_codec::{Compact, Decode};

use super::extrinsic::CallIndex;

/// The extensions that carry data, in order, with (explicit non-empty, implicit non-empty).
pub const EXPECTED_EXTENSIONS: [(&str, bool, bool); 7] = [
    ("CheckSpecVersion", false, true),
    ("CheckTxVersion", false, true),
    ("CheckGenesis", false, true),
    ("CheckMortality", true, true),
    ("CheckNonce", true, false),
    ("ChargeTransactionPaymentWrapper", true, false),
    ("CheckMetadataHash", true, true),
];

/// The `set_weights` fields in declaration order (chain.md §3.3).
pub const SET_WEIGHTS_FIELDS: [&str; 4] = ["netuid", "dests", "weights", "version_key"];

/// Failures reading or checking the metadata.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MetadataError {
    /// The bytes are not V14 metadata.
    #[error("runtime metadata unreadable: {0}")]
    Malformed(String),
    /// The runtime differs from what the client encodes; nothing is submitted.
    #[error("runtime metadata does not match this client, refusing to submit: {0}")]
    Mismatch(String),
}

/// One transaction extension as the metadata declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Identifier, e.g. `CheckNonce`.
    pub identifier: String,
    /// The explicit (sent) value has bytes.
    pub explicit: bool,
    /// The implicit (signed only) value has bytes.
    pub implicit: bool,
}

/// What the check reads out of the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeFacts {
    /// Pallet and call index of `SubtensorModule.set_weights` (None: not found).
    pub set_weights: Option<CallIndex>,
    /// Its field names.
    pub set_weights_fields: Vec<String>,
    /// Extrinsic format version.
    pub extrinsic_version: u8,
    /// The transaction extensions, in order.
    pub extensions: Vec<Extension>,
}

fn bad(what: impl Into<String>) -> MetadataError {
    MetadataError::Malformed(what.into())
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MetadataError> {
        if self.rest.len() < n {
            return Err(bad(format!(
                "truncated: {n} bytes wanted, {} left",
                self.rest.len()
            )));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, MetadataError> {
        Ok(self.take(1)?[0])
    }
    fn compact(&mut self) -> Result<u32, MetadataError> {
        let Compact(v) = Compact::<u32>::decode(&mut self.rest).map_err(|e| bad(e.to_string()))?;
        Ok(v)
    }
    fn bytes(&mut self) -> Result<&'a [u8], MetadataError> {
        let n = self.compact()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, MetadataError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| bad("string is not UTF-8"))
    }
    fn seq<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, MetadataError>,
    ) -> Result<Vec<T>, MetadataError> {
        let n = self.compact()? as usize;
        if n > self.rest.len() {
            return Err(bad(format!("{n} items but {} bytes left", self.rest.len())));
        }
        (0..n).map(|_| item(self)).collect()
    }
    fn option<T>(
        &mut self,
        item: impl FnOnce(&mut Self) -> Result<T, MetadataError>,
    ) -> Result<Option<T>, MetadataError> {
        match self.u8()? {
            0 => Ok(None),
            1 => item(self).map(Some),
            t => Err(bad(format!("option tag {t}"))),
        }
    }
    fn docs(&mut self) -> Result<(), MetadataError> {
        self.seq(|r| r.bytes().map(|_| ())).map(|_| ())
    }
}

struct Field {
    name: Option<String>,
    ty: u32,
}

struct Variant {
    name: String,
    fields: Vec<Field>,
    index: u8,
}

enum Def {
    Composite(Vec<Field>),
    Variant(Vec<Variant>),
    Array(u32, u32),
    Tuple(Vec<u32>),
    Other,
}

fn field(r: &mut Reader<'_>) -> Result<Field, MetadataError> {
    let name = r.option(|r| r.string())?;
    let ty = r.compact()?;
    r.option(|r| r.bytes().map(|_| ()))?;
    r.docs()?;
    Ok(Field { name, ty })
}

fn type_entry(r: &mut Reader<'_>) -> Result<(u32, Def), MetadataError> {
    let id = r.compact()?;
    r.docs()?; // path: Vec<String>, read like docs
    r.seq(|r| {
        r.bytes()?;
        r.option(|r| r.compact())
    })?;
    let def = match r.u8()? {
        0 => Def::Composite(r.seq(field)?),
        1 => Def::Variant(r.seq(|r| {
            let name = r.string()?;
            let fields = r.seq(field)?;
            let index = r.u8()?;
            r.docs()?;
            Ok(Variant {
                name,
                fields,
                index,
            })
        })?),
        2 | 6 => {
            r.compact()?;
            Def::Other
        }
        3 => {
            let mut len = [0u8; 4];
            len.copy_from_slice(r.take(4)?);
            Def::Array(u32::from_le_bytes(len), r.compact()?)
        }
        4 => Def::Tuple(r.seq(|r| r.compact())?),
        5 => {
            r.u8()?;
            Def::Other
        }
        7 => {
            r.compact()?;
            r.compact()?;
            Def::Other
        }
        t => return Err(bad(format!("type {id}: definition tag {t}"))),
    };
    r.docs()?;
    Ok((id, def))
}

struct Types(std::collections::HashMap<u32, Def>);

impl Types {
    /// True when values of `id` encode to no bytes.
    fn is_empty(&self, id: u32, depth: u32) -> bool {
        if depth > 32 {
            return false;
        }
        match self.0.get(&id) {
            Some(Def::Composite(fields)) => fields.iter().all(|f| self.is_empty(f.ty, depth + 1)),
            Some(Def::Tuple(items)) => items.iter().all(|t| self.is_empty(*t, depth + 1)),
            Some(Def::Array(len, t)) => *len == 0 || self.is_empty(*t, depth + 1),
            _ => false,
        }
    }
}

/// Parse `state_getMetadata` bytes (`"meta"`, version 14, `RuntimeMetadataV14`).
pub fn parse(bytes: &[u8]) -> Result<RuntimeFacts, MetadataError> {
    let mut r = Reader { rest: bytes };
    if r.take(4)? != b"meta" {
        return Err(bad("no `meta` magic"));
    }
    let version = r.u8()?;
    if version != 14 {
        return Err(bad(format!(
            "metadata version {version}, this client reads 14"
        )));
    }
    let types = Types(r.seq(type_entry)?.into_iter().collect());
    let mut set_weights = None;
    let mut set_weights_fields = Vec::new();
    r.seq(|r| {
        let name = r.string()?;
        r.option(|r| {
            r.bytes()?;
            r.seq(|r| {
                r.bytes()?;
                r.u8()?;
                match r.u8()? {
                    0 => {
                        r.compact()?;
                    }
                    1 => {
                        r.seq(|r| r.u8())?;
                        r.compact()?;
                        r.compact()?;
                    }
                    t => return Err(bad(format!("storage entry type tag {t}"))),
                }
                r.bytes()?;
                r.docs()
            })
        })?;
        let calls = r.option(|r| r.compact())?;
        r.option(|r| r.compact())?;
        r.seq(|r| {
            r.bytes()?;
            r.compact()?;
            r.bytes()?;
            r.docs()
        })?;
        r.option(|r| r.compact())?;
        let index = r.u8()?;
        if name == "SubtensorModule" {
            if let Some(Def::Variant(variants)) = calls.and_then(|t| types.0.get(&t)) {
                if let Some(v) = variants.iter().find(|v| v.name == "set_weights") {
                    set_weights = Some(CallIndex {
                        pallet: index,
                        call: v.index,
                    });
                    set_weights_fields = v
                        .fields
                        .iter()
                        .map(|f| f.name.clone().unwrap_or_default())
                        .collect();
                }
            }
        }
        Ok(())
    })?;
    r.compact()?;
    let extrinsic_version = r.u8()?;
    let extensions = r.seq(|r| {
        let identifier = r.string()?;
        let explicit = !types.is_empty(r.compact()?, 0);
        let implicit = !types.is_empty(r.compact()?, 0);
        Ok(Extension {
            identifier,
            explicit,
            implicit,
        })
    })?;
    Ok(RuntimeFacts {
        set_weights,
        set_weights_fields,
        extrinsic_version,
        extensions,
    })
}

/// Refuse unless the runtime matches what [`super::extrinsic`] encodes.
pub fn check(facts: &RuntimeFacts) -> Result<(), MetadataError> {
    let mismatch = |m: String| Err(MetadataError::Mismatch(m));
    match facts.set_weights {
        Some(i) if i == CallIndex::SUBTENSOR_SET_WEIGHTS => {}
        Some(i) => {
            return mismatch(format!(
                "SubtensorModule.set_weights is ({}, {}), the client sends (7, 0)",
                i.pallet, i.call
            ))
        }
        None => return mismatch("no SubtensorModule.set_weights call".into()),
    }
    if facts.set_weights_fields != SET_WEIGHTS_FIELDS {
        return mismatch(format!(
            "set_weights fields are {:?}, the client sends {SET_WEIGHTS_FIELDS:?}",
            facts.set_weights_fields
        ));
    }
    if facts.extrinsic_version != 4 {
        return mismatch(format!("extrinsic version {}", facts.extrinsic_version));
    }
    let carrying: Vec<(&str, bool, bool)> = facts
        .extensions
        .iter()
        .filter(|e| e.explicit || e.implicit)
        .map(|e| (e.identifier.as_str(), e.explicit, e.implicit))
        .collect();
    if carrying != EXPECTED_EXTENSIONS {
        return mismatch(format!(
            "transaction extensions with data are {carrying:?}, the client signs \
             {EXPECTED_EXTENSIONS:?}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for bytes in [
            &b""[..],
            b"atem\x0e",
            b"meta\x0f",
            b"meta\x0e",
            b"meta\x0e\xff\xff\xff\xff",
            b"meta\x0e\x04\x00\x00\x00\x09",
        ] {
            assert!(
                matches!(parse(bytes), Err(MetadataError::Malformed(_))),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn the_check_names_what_differs() {
        let ext = |(identifier, explicit, implicit): (&str, bool, bool)| Extension {
            identifier: identifier.into(),
            explicit,
            implicit,
        };
        let mut facts = RuntimeFacts {
            set_weights: Some(CallIndex::SUBTENSOR_SET_WEIGHTS),
            set_weights_fields: SET_WEIGHTS_FIELDS.iter().map(|s| s.to_string()).collect(),
            extrinsic_version: 4,
            extensions: EXPECTED_EXTENSIONS.into_iter().map(ext).collect(),
        };
        facts
            .extensions
            .insert(0, ext(("CheckNonZeroSender", false, false)));
        assert!(check(&facts).is_ok());
        facts.extensions.swap(1, 2);
        let err = check(&facts).unwrap_err().to_string();
        assert!(err.contains("CheckTxVersion"), "{err}");
        facts.set_weights = None;
        assert!(check(&facts)
            .unwrap_err()
            .to_string()
            .contains("no SubtensorModule"));
    }
}
