//! DAP2 text formats: the Dataset Descriptor Structure (`.dds`, also the header of a `.dods`
//! data response) and the Dataset Attribute Structure (`.das`).
//!
//! Both are parsed by one small tokenizer. Only what a gridded dataset server (GrADS-DODS,
//! pydap, Hyrax) sends is accepted: base types, arrays with named or anonymous dimensions,
//! Grids (array + maps) and Structures. Sequences are refused with a named error. Sizes are
//! bounded by the caller (the whole text is read under a byte limit first).

use std::collections::HashMap;

/// A malformed DDS or DAS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}")]
pub struct SyntaxError {
    /// What is wrong, with the offending token.
    pub what: String,
}

fn syntax(what: impl Into<String>) -> SyntaxError {
    SyntaxError { what: what.into() }
}

/// A DAP2 atomic type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseType {
    /// 8-bit unsigned.
    Byte,
    /// 16-bit signed (4 bytes on the wire).
    Int16,
    /// 16-bit unsigned (4 bytes on the wire).
    UInt16,
    /// 32-bit signed.
    Int32,
    /// 32-bit unsigned.
    UInt32,
    /// IEEE single.
    Float32,
    /// IEEE double.
    Float64,
    /// Length-prefixed text.
    String,
    /// Length-prefixed URL.
    Url,
}

impl BaseType {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "byte" => Self::Byte,
            "int16" => Self::Int16,
            "uint16" => Self::UInt16,
            "int32" => Self::Int32,
            "uint32" => Self::UInt32,
            "float32" => Self::Float32,
            "float64" => Self::Float64,
            "string" => Self::String,
            "url" => Self::Url,
            _ => return None,
        })
    }
}

/// An array (or scalar, without dimensions) of one base type.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayDecl {
    /// Element type.
    pub ty: BaseType,
    /// Variable name.
    pub name: String,
    /// Dimensions, outermost first: name (empty when anonymous) and length.
    pub dims: Vec<(String, usize)>,
}

impl ArrayDecl {
    /// Number of elements (1 for a scalar), `None` on overflow.
    pub fn element_count(&self) -> Option<usize> {
        self.dims
            .iter()
            .try_fold(1usize, |acc, (_, n)| acc.checked_mul(*n))
    }
}

/// One declaration of a DDS.
#[derive(Debug, Clone, PartialEq)]
pub enum Decl {
    /// A base-type variable or array.
    Array(ArrayDecl),
    /// A Grid: the array and one map per dimension.
    Grid {
        /// Grid name.
        name: String,
        /// The data array.
        array: ArrayDecl,
        /// The coordinate maps.
        maps: Vec<ArrayDecl>,
    },
    /// A Structure of members.
    Structure {
        /// Structure name.
        name: String,
        /// Members in order.
        members: Vec<Decl>,
    },
}

/// A parsed DDS.
#[derive(Debug, Clone, PartialEq)]
pub struct Dds {
    /// Dataset name.
    pub name: String,
    /// Top-level declarations in order.
    pub decls: Vec<Decl>,
}

impl Dds {
    /// Parse DDS text.
    pub fn parse(text: &str) -> Result<Self, SyntaxError> {
        let mut p = Parser::new(text)?;
        p.keyword("Dataset")?;
        p.punct('{')?;
        let decls = p.decls()?;
        p.punct('}')?;
        let name = p.word()?;
        p.punct(';')?;
        Ok(Self { name, decls })
    }

    /// The array named `name` (top level, or the array of a Grid of that name) and its
    /// dimension names (from the Grid's maps when the array's own are anonymous).
    pub fn array(&self, name: &str) -> Option<ArrayDecl> {
        self.decls.iter().find_map(|d| match d {
            Decl::Array(a) if a.name == name => Some(a.clone()),
            Decl::Grid {
                name: g,
                array,
                maps,
            } if g == name => {
                let mut a = array.clone();
                for (dim, map) in a.dims.iter_mut().zip(maps) {
                    if dim.0.is_empty() {
                        dim.0 = map.name.clone();
                    }
                }
                Some(a)
            }
            _ => None,
        })
    }
}

/// Attributes of the DAS: per top-level container (variable), attribute name → values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Das {
    /// Container name → attribute name → values (numbers parsed, strings unquoted).
    pub vars: HashMap<String, HashMap<String, Vec<AttrValue>>>,
}

/// One attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// A numeric value.
    Number(f64),
    /// Text.
    Text(String),
}

impl Das {
    /// Parse DAS text.
    pub fn parse(text: &str) -> Result<Self, SyntaxError> {
        let mut p = Parser::new(text)?;
        p.keyword("Attributes")?;
        p.punct('{')?;
        let mut das = Das::default();
        while !p.peek_punct('}') {
            let name = p.word()?;
            p.punct('{')?;
            let mut attrs = HashMap::new();
            p.attributes(&mut attrs, 0)?;
            das.vars.insert(name, attrs);
        }
        p.punct('}')?;
        Ok(das)
    }

    /// The first numeric value of `var`'s attribute `attr`.
    pub fn number(&self, var: &str, attr: &str) -> Option<f64> {
        self.vars.get(var)?.get(attr)?.iter().find_map(|v| match v {
            AttrValue::Number(x) => Some(*x),
            AttrValue::Text(_) => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Punct(char),
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

const MAX_DEPTH: usize = 16;

fn tokenize(text: &str) -> Result<Vec<Token>, SyntaxError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if "{}[];=,:".contains(c) {
            tokens.push(Token::Punct(c));
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err(syntax("unterminated string")),
                    Some('"') => break,
                    Some('\\') => s.extend(chars.next()),
                    Some(other) => s.push(other),
                }
            }
            tokens.push(Token::Quoted(s));
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || "{}[];=,:\"".contains(c) {
                    break;
                }
                w.push(c);
                chars.next();
            }
            tokens.push(Token::Word(w));
        }
    }
    Ok(tokens)
}

impl Parser {
    fn new(text: &str) -> Result<Self, SyntaxError> {
        Ok(Self {
            tokens: tokenize(text)?,
            pos: 0,
        })
    }

    fn next(&mut self) -> Result<Token, SyntaxError> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t.ok_or_else(|| syntax("unexpected end of text"))
    }

    fn peek_punct(&self, c: char) -> bool {
        self.tokens.get(self.pos) == Some(&Token::Punct(c))
    }

    fn punct(&mut self, c: char) -> Result<(), SyntaxError> {
        match self.next()? {
            Token::Punct(p) if p == c => Ok(()),
            other => Err(syntax(format!("expected `{c}`, found {other:?}"))),
        }
    }

    fn word(&mut self) -> Result<String, SyntaxError> {
        match self.next()? {
            Token::Word(w) => Ok(w),
            other => Err(syntax(format!("expected a name, found {other:?}"))),
        }
    }

    fn keyword(&mut self, k: &str) -> Result<(), SyntaxError> {
        let w = self.word()?;
        if w.eq_ignore_ascii_case(k) {
            Ok(())
        } else {
            Err(syntax(format!("expected `{k}`, found `{w}`")))
        }
    }

    fn decls(&mut self) -> Result<Vec<Decl>, SyntaxError> {
        let mut out = Vec::new();
        while !self.peek_punct('}') {
            out.push(self.decl(0)?);
        }
        Ok(out)
    }

    fn decl(&mut self, depth: usize) -> Result<Decl, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(syntax("declarations nested too deeply"));
        }
        let head = self.word()?;
        match head.to_ascii_lowercase().as_str() {
            "grid" => {
                self.punct('{')?;
                self.keyword("Array")?;
                self.punct(':')?;
                let array = self.array_decl()?;
                self.keyword("Maps")?;
                self.punct(':')?;
                let mut maps = Vec::new();
                while !self.peek_punct('}') {
                    maps.push(self.array_decl()?);
                }
                self.punct('}')?;
                let name = self.word()?;
                self.punct(';')?;
                Ok(Decl::Grid { name, array, maps })
            }
            "structure" => {
                self.punct('{')?;
                let mut members = Vec::new();
                while !self.peek_punct('}') {
                    members.push(self.decl(depth + 1)?);
                }
                self.punct('}')?;
                let name = self.word()?;
                self.punct(';')?;
                Ok(Decl::Structure { name, members })
            }
            "sequence" => Err(syntax("Sequences are not supported")),
            _ => {
                self.pos -= 1;
                Ok(Decl::Array(self.array_decl()?))
            }
        }
    }

    fn array_decl(&mut self) -> Result<ArrayDecl, SyntaxError> {
        let t = self.word()?;
        let ty = BaseType::parse(&t).ok_or_else(|| syntax(format!("unknown type `{t}`")))?;
        let name = self.word()?;
        let mut dims = Vec::new();
        while self.peek_punct('[') {
            self.punct('[')?;
            let first = self.word()?;
            let (dim, len) = if self.peek_punct('=') {
                self.punct('=')?;
                (first, self.word()?)
            } else {
                (String::new(), first)
            };
            let n = len
                .parse::<usize>()
                .map_err(|_| syntax(format!("bad length `{len}` of `{name}`")))?;
            self.punct(']')?;
            dims.push((dim, n));
        }
        self.punct(';')?;
        Ok(ArrayDecl { ty, name, dims })
    }

    fn attributes(
        &mut self,
        out: &mut HashMap<String, Vec<AttrValue>>,
        depth: usize,
    ) -> Result<(), SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(syntax("attributes nested too deeply"));
        }
        loop {
            if self.peek_punct('}') {
                return self.punct('}');
            }
            let first = self.word()?;
            if self.peek_punct('{') {
                // A nested container: parsed (to stay in sync) and not kept.
                self.punct('{')?;
                self.attributes(&mut HashMap::new(), depth + 1)?;
                continue;
            }
            let name = self.word()?;
            let mut values = Vec::new();
            loop {
                let v = match self.next()? {
                    Token::Quoted(s) => AttrValue::Text(s),
                    Token::Word(w) => match w.parse::<f64>() {
                        Ok(x) if !first.eq_ignore_ascii_case("string") => AttrValue::Number(x),
                        _ => AttrValue::Text(w),
                    },
                    other => return Err(syntax(format!("bad value of `{name}`: {other:?}"))),
                };
                values.push(v);
                match self.next()? {
                    Token::Punct(',') => continue,
                    Token::Punct(';') => break,
                    other => return Err(syntax(format!("after `{name}`: {other:?}"))),
                }
            }
            out.insert(name, values);
        }
    }
}
