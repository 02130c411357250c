//! The `.snnir` parser: text (plus the sidecar it names) back into a `Module`, errors at line:column.
//!
//! The parser checks syntax, numbering and the sidecar; structural rules (shapes, cycles,
//! dangling handles) are the validator's job, and [`SourceMap`] leads its messages back to lines.

use super::lex::{Tok, Token, lex};
use crate::ir::{
    self, Compare, Encoding, Handle, HandleMap, Module, Population, PopulationKind, Projection,
    ProjectionKind, ReadoutKind, Reset, Shape, Tensor,
};
use crate::network::{Weights, WeightsError};
use crate::validate::Location;
use std::collections::BTreeMap;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
#[error("{file}:{line}:{col}: {message}")]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Where each entity was defined: its line (1-based) by handle, and which tensors came from the
/// sidecar (named by the `weights` line).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceMap {
    pub tensors: HandleMap<Tensor, usize>,
    pub populations: HandleMap<Population, usize>,
    pub projections: HandleMap<Projection, usize>,
    pub sidecar: Option<String>,
    pub external: HandleMap<Tensor, bool>,
}

impl SourceMap {
    /// The line defining the entity a validation error is about; `None` for the module as a
    /// whole and for handles the file does not define.
    pub fn line(&self, at: Location) -> Option<usize> {
        match at {
            Location::Module => None,
            Location::Tensor(h) => self.tensors.get(h).copied(),
            Location::Population(h) => self.populations.get(h).copied(),
            Location::Projection(h) => self.projections.get(h).copied(),
        }
    }
}

/// Parse `text` (from `file`, for messages). `load` reads the sidecar a `weights` line names.
pub fn parse(
    text: &str,
    file: &str,
    mut load: impl FnMut(&str) -> Result<Weights, WeightsError>,
) -> Result<(Module, SourceMap), ParseError> {
    let mut p = Parser {
        file,
        module: Module::default(),
        map: SourceMap::default(),
        sidecar: None,
        header: 0,
        events: Vec::new(),
    };
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let tokens = lex(raw).map_err(|(col, message)| p.err(line_no, col, message))?;
        if tokens.is_empty() {
            continue;
        }
        let mut l = Line {
            tokens,
            at: 0,
            line: line_no,
            end: raw.chars().count() + 1,
            file,
        };
        p.line(&mut l, &mut load)?;
    }
    if p.header < 2 {
        return Err(p.err(
            text.lines().count().max(1),
            1,
            "missing header: a module starts with `snnir 1` and a `module` line".into(),
        ));
    }
    // The events word is redundant with the source's kind; a mismatch means a hand edit went wrong.
    for (e, line, col, declared) in std::mem::take(&mut p.events) {
        let proj = &p.module.projections[e];
        if let Some(src) = p.module.populations.get(proj.source) {
            let actual = src.kind.events();
            if actual != declared {
                return Err(p.err(
                    line,
                    col,
                    format!(
                        "{e} is marked {} but its source {} is {} and emits {} events",
                        declared.name(),
                        proj.source,
                        src.kind.name(),
                        actual.name()
                    ),
                ));
            }
        }
    }
    Ok((p.module, p.map))
}

struct Parser<'a> {
    file: &'a str,
    module: Module,
    map: SourceMap,
    sidecar: Option<Weights>,
    /// 0: expecting `snnir`, 1: expecting `module`, 2: body.
    header: u8,
    events: Vec<(Handle<Projection>, usize, usize, ir::Events)>,
}

impl Parser<'_> {
    fn err(&self, line: usize, col: usize, message: String) -> ParseError {
        ParseError {
            file: self.file.to_string(),
            line,
            col,
            message,
        }
    }

    fn line(
        &mut self,
        l: &mut Line,
        load: &mut impl FnMut(&str) -> Result<Weights, WeightsError>,
    ) -> Result<(), ParseError> {
        match self.header {
            0 => {
                l.keyword("snnir")?;
                let (v, col) = l.number::<u32>("the format version")?;
                if v != super::VERSION {
                    return Err(l.err_at(
                        col,
                        format!(
                            "unsupported snnir version {v}; this snnc reads version {}",
                            super::VERSION
                        ),
                    ));
                }
                l.end()?;
                self.header = 1;
                return Ok(());
            }
            1 => {
                l.keyword("module")?;
                self.module.name = l.string("the module name")?;
                let mut attrs = l.attrs()?;
                self.module.timesteps = attrs.number(l, "timesteps")?;
                self.module.num_classes = attrs.number(l, "classes")?;
                attrs.finish(l, "module")?;
                self.header = 2;
                return Ok(());
            }
            _ => {}
        }
        let (word, col) = l.word("`weights`, or a handle such as `t0`, `p0` or `e0`")?;
        if word == "weights" {
            if self.sidecar.is_some() {
                return Err(l.err_at(
                    col,
                    "a second `weights` line; a module has one sidecar".into(),
                ));
            }
            let name = l.string("the sidecar file name")?;
            l.end()?;
            let w = load(&name)
                .map_err(|m| l.err_at(col, format!("cannot load the sidecar {name:?}: {m}")))?;
            self.sidecar = Some(w);
            self.map.sidecar = Some(name);
            return Ok(());
        }
        l.expect(&Tok::Eq, "`=`")?;
        let (prefix, index) = word.split_at(1);
        let index: Option<usize> = index.parse().ok().filter(|_| !index.starts_with('+'));
        match (prefix, index) {
            ("t", Some(i)) => {
                sequence(l, col, 't', i, self.module.tensors.len())?;
                self.map.tensors.push(l.line);
                let (t, external) = self.tensor(l)?;
                self.module.tensors.push(t);
                self.map.external.push(external);
            }
            ("p", Some(i)) => {
                sequence(l, col, 'p', i, self.module.populations.len())?;
                self.map.populations.push(l.line);
                let p = population(l)?;
                self.module.populations.push(p);
            }
            ("e", Some(i)) => {
                sequence(l, col, 'e', i, self.module.projections.len())?;
                self.map.projections.push(l.line);
                let (e, events) = projection(l)?;
                let h = self.module.projections.push(e);
                self.events.push((h, l.line, events.1, events.0));
            }
            _ => {
                return Err(l.err_at(
                    col,
                    format!("expected a handle such as `t0`, `p0` or `e0`, found `{word}`"),
                ));
            }
        }
        Ok(())
    }

    /// A tensor line; also says whether its values came from the sidecar.
    fn tensor(&mut self, l: &mut Line) -> Result<(Tensor, bool), ParseError> {
        l.keyword("tensor")?;
        let label = l.string("the tensor's label")?;
        let shape = l.dims()?;
        let numel: usize = shape.iter().product();
        let handle = format!("t{}", self.module.tensors.len());
        if l.peek_word() == Some("external") {
            let col = l.next_col();
            l.at += 1;
            let mut attrs = l.attrs()?;
            let (hash_text, hash_col) = attrs.raw(l, "hash")?;
            attrs.finish(l, "an external tensor")?;
            let Some(side) = self.sidecar.as_mut() else {
                return Err(l.err_at(
                    col,
                    format!(
                        "{handle} is external, but no `weights` line names a sidecar before it"
                    ),
                ));
            };
            let Some(t) = side.tensors.remove(&handle) else {
                return Err(l.err_at(col, format!("the sidecar has no tensor `{handle}`")));
            };
            if t.shape != shape {
                return Err(l.err_at(
                    col,
                    format!(
                        "the sidecar's {handle} has shape {:?}, but the text says {shape:?}",
                        t.shape
                    ),
                ));
            }
            let hash = u64::from_str_radix(&hash_text, 16).map_err(|_| {
                l.err_at(
                    hash_col,
                    format!("hash must be 16 hex digits, got `{hash_text}`"),
                )
            })?;
            if crate::hash::f32s(&t.data) != hash {
                return Err(l.err_at(hash_col, format!("the sidecar's {handle} does not match its hash (text and sidecar are from different compilations?)")));
            }
            return Ok((Tensor::new(label, shape, t.data), true));
        }
        let (values, col) = l.list::<f32>("tensor values")?;
        l.end()?;
        if values.len() != numel {
            return Err(l.err_at(
                col,
                format!(
                    "shape {shape:?} needs {numel} values, found {}",
                    values.len()
                ),
            ));
        }
        Ok((Tensor::new(label, shape, values), false))
    }
}

fn sequence(
    l: &Line,
    col: usize,
    prefix: char,
    found: usize,
    expected: usize,
) -> Result<(), ParseError> {
    if found != expected {
        return Err(l.err_at(
            col,
            format!(
                "expected {prefix}{expected} here: {prefix}-handles are numbered densely in order"
            ),
        ));
    }
    Ok(())
}

fn population(l: &mut Line) -> Result<Population, ParseError> {
    let (kind, kind_col) = l.word("a population kind")?;
    let name = l.string("the population's name")?;
    let shape = Shape(l.dims()?);
    let kind = match kind.as_str() {
        "input" => {
            let encoding = l.choice(
                "an encoding",
                &[
                    ("direct", Encoding::Direct),
                    ("event_frames", Encoding::EventFrames),
                ],
            )?;
            l.end()?;
            PopulationKind::Input(ir::Input { encoding })
        }
        "spiking" => {
            let mut a = l.attrs()?;
            let s = ir::Spiking {
                beta: a.param(l, "beta")?,
                gain: a.param(l, "gain")?,
                threshold: a.param(l, "threshold")?,
                v_reset: a.param(l, "v_reset")?,
                reset: a.choice(l, "reset", &Reset::ALL.map(|r| (super::reset_name(r), r)))?,
                fire: a.choice(l, "fire", &[("ge", Compare::Ge), ("gt", Compare::Gt)])?,
                v_leak: a.opt_param(l, "v_leak")?,
                v_min: a.opt_param(l, "v_min")?,
                synapse: match a.opt_param(l, "alpha")? {
                    Some(alpha) => Some(ir::Synapse {
                        alpha,
                        w_in: a.param(l, "w_in")?,
                    }),
                    None => None,
                },
                bias: a.opt_handle(l, "bias", 't')?,
            };
            a.finish(l, "a spiking population")?;
            PopulationKind::Spiking(s)
        }
        "analog" => {
            let mut a = l.attrs()?;
            let bias = a.opt_handle(l, "bias", 't')?;
            let constant = a.flag("const");
            a.finish(l, "an analog population")?;
            PopulationKind::Analog(ir::Analog { bias, constant })
        }
        "readout" => {
            let mode = l.choice(
                "a readout mode",
                &[
                    ("time_mean", ReadoutKind::TimeMean),
                    ("spike_count", ReadoutKind::SpikeCount),
                    ("membrane_last", ReadoutKind::MembraneLast),
                    ("membrane_mean", ReadoutKind::MembraneMean),
                    ("membrane_max", ReadoutKind::MembraneMax),
                ],
            )?;
            let mut a = l.attrs()?;
            let integrator = match a.opt_param(l, "beta")? {
                Some(beta) => Some(ir::Integrator {
                    beta,
                    gain: a.param(l, "gain")?,
                    rest: a.param(l, "rest")?,
                    synapse: match a.opt_param(l, "alpha")? {
                        Some(alpha) => Some(ir::Synapse {
                            alpha,
                            w_in: a.param(l, "w_in")?,
                        }),
                        None => None,
                    },
                }),
                None => None,
            };
            let bias = a.opt_handle(l, "bias", 't')?;
            a.finish(l, "a readout population")?;
            PopulationKind::Readout(ir::Readout {
                mode,
                bias,
                integrator,
            })
        }
        other => {
            return Err(l.err_at(
                kind_col,
                format!("unknown population kind `{other}` (input, spiking, analog or readout)"),
            ));
        }
    };
    Ok(Population { name, shape, kind })
}

fn projection(l: &mut Line) -> Result<(Projection, (ir::Events, usize)), ParseError> {
    let (kind, kind_col) = l.word("a projection kind")?;
    let source = l.handle('p', "the source population")?;
    l.expect(&Tok::Arrow, "`->`")?;
    let target = l.handle('p', "the target population")?;
    let events_col = l.next_col();
    let events = l.choice(
        "`binary` or `graded`",
        &[
            ("binary", ir::Events::Binary),
            ("graded", ir::Events::Graded),
        ],
    )?;
    let mut a = l.attrs()?;
    let delay = a.opt_number(l, "delay")?.unwrap_or(0);
    let kind = match kind.as_str() {
        "conv2d" => ProjectionKind::Conv2d(ir::Conv2d {
            weight: a.handle(l, "weight", 't')?,
            stride: a.pair(l, "stride")?,
            padding: a.pair(l, "padding")?,
            groups: a.number(l, "groups")?,
        }),
        "dense" => ProjectionKind::Dense(ir::Dense {
            weight: a.handle(l, "weight", 't')?,
        }),
        "sum_pool" => ProjectionKind::SumPool(ir::SumPool {
            kernel: a.pair(l, "kernel")?,
            stride: a.pair(l, "stride")?,
            padding: a.pair(l, "padding")?,
            scale: a.number(l, "scale")?,
        }),
        "identity" => ProjectionKind::Identity(ir::Identity),
        "scale" => ProjectionKind::Scale(ir::Scale {
            factor: a.number(l, "factor")?,
        }),
        "affine" => ProjectionKind::Affine(ir::Affine {
            scale: a.handle(l, "scale", 't')?,
        }),
        "reshape" => ProjectionKind::Reshape(ir::Reshape),
        "dropout" => ProjectionKind::Dropout(ir::Dropout {
            p: a.number(l, "p")?,
        }),
        other => {
            return Err(l.err_at(kind_col, format!(
                "unknown projection kind `{other}` (conv2d, dense, sum_pool, identity, scale, affine, reshape or dropout)"
            )));
        }
    };
    a.finish(l, &format!("a {} projection", kind.name()))?;
    Ok((
        Projection {
            source,
            target,
            delay,
            kind,
        },
        (events, events_col),
    ))
}

/// The tokens of one line and a cursor over them.
struct Line<'a> {
    tokens: Vec<Token>,
    at: usize,
    line: usize,
    /// Column just past the line, for "expected ... at end of line".
    end: usize,
    file: &'a str,
}

enum Value {
    Atom(String),
    List(Vec<(String, usize)>),
    Flag,
}

/// `key=value` attributes (and bare flags) of a line, consumed by name.
struct Attrs {
    /// Value, column of the key, column of the value.
    items: BTreeMap<String, (Value, usize, usize)>,
}

impl Line<'_> {
    fn err_at(&self, col: usize, message: String) -> ParseError {
        ParseError {
            file: self.file.to_string(),
            line: self.line,
            col,
            message,
        }
    }
    fn next_col(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |t| t.col)
    }
    fn next(&mut self, what: &str) -> Result<Token, ParseError> {
        let t = self.tokens.get(self.at).cloned().ok_or_else(|| {
            self.err_at(
                self.end,
                format!("expected {what}, found the end of the line"),
            )
        })?;
        self.at += 1;
        Ok(t)
    }
    fn unexpected(&self, t: &Token, what: &str) -> ParseError {
        self.err_at(
            t.col,
            format!("expected {what}, found {}", t.kind.describe()),
        )
    }
    fn expect(&mut self, tok: &Tok, what: &str) -> Result<(), ParseError> {
        let t = self.next(what)?;
        if &t.kind != tok {
            return Err(self.unexpected(&t, what));
        }
        Ok(())
    }
    fn peek_word(&self) -> Option<&str> {
        match self.tokens.get(self.at).map(|t| &t.kind) {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }
    fn word(&mut self, what: &str) -> Result<(String, usize), ParseError> {
        let t = self.next(what)?;
        match t.kind {
            Tok::Word(w) => Ok((w, t.col)),
            _ => Err(self.unexpected(&t, what)),
        }
    }
    fn keyword(&mut self, k: &str) -> Result<(), ParseError> {
        let what = format!("`{k}`");
        let t = self.next(&what)?;
        match &t.kind {
            Tok::Word(w) if w == k => Ok(()),
            _ => Err(self.unexpected(&t, &what)),
        }
    }
    fn string(&mut self, what: &str) -> Result<String, ParseError> {
        let what = format!("{what} (a quoted string)");
        let t = self.next(&what)?;
        match t.kind {
            Tok::Str(s) => Ok(s),
            _ => Err(self.unexpected(&t, &what)),
        }
    }
    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<(T, usize), ParseError> {
        let t = self.next(what)?;
        match &t.kind {
            Tok::Number(n) => n
                .parse()
                .map(|v| (v, t.col))
                .map_err(|_| self.err_at(t.col, format!("`{n}` is not a valid {what}"))),
            _ => Err(self.unexpected(&t, what)),
        }
    }
    fn choice<T: Copy>(&mut self, what: &str, options: &[(&str, T)]) -> Result<T, ParseError> {
        let (w, col) = self.word(what)?;
        pick(self, &w, col, what, options)
    }
    fn handle<T>(&mut self, prefix: char, what: &str) -> Result<Handle<T>, ParseError> {
        let (w, col) = self.word(what)?;
        parse_handle(self, &w, col, prefix, what)
    }
    fn end(&mut self) -> Result<(), ParseError> {
        match self.tokens.get(self.at) {
            None => Ok(()),
            Some(t) => Err(self.err_at(
                t.col,
                format!("unexpected {} at the end of the line", t.kind.describe()),
            )),
        }
    }
    /// `[a, b, ...]` of numbers; returns the values and the column of `[`.
    fn list<T: std::str::FromStr>(&mut self, what: &str) -> Result<(Vec<T>, usize), ParseError> {
        let open = self.next(&format!("`[` opening {what}"))?;
        if open.kind != Tok::Open {
            return Err(self.unexpected(&open, &format!("`[` opening {what}")));
        }
        let mut out = Vec::new();
        loop {
            let t = self.next(&format!("a number or `]` in {what}"))?;
            match &t.kind {
                Tok::Close if out.is_empty() => break,
                Tok::Number(n) => {
                    out.push(n.parse().map_err(|_| {
                        self.err_at(t.col, format!("`{n}` is not a valid number in {what}"))
                    })?);
                    let sep = self.next(&format!("`,` or `]` in {what}"))?;
                    match sep.kind {
                        Tok::Comma => continue,
                        Tok::Close => break,
                        _ => return Err(self.unexpected(&sep, &format!("`,` or `]` in {what}"))),
                    }
                }
                _ => return Err(self.unexpected(&t, &format!("a number in {what}"))),
            }
        }
        Ok((out, open.col))
    }
    /// A shape; its element count must fit in memory's address range.
    fn dims(&mut self) -> Result<Vec<usize>, ParseError> {
        let (dims, col) = self.list::<usize>("a shape")?;
        let numel = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if numel.is_none_or(|n| n > isize::MAX as usize / 8) {
            return Err(self.err_at(col, format!("shape {dims:?} has too many elements")));
        }
        Ok(dims)
    }
    /// The rest of the line as attributes.
    fn attrs(&mut self) -> Result<Attrs, ParseError> {
        let mut items = BTreeMap::new();
        while self.at < self.tokens.len() {
            let (key, col) = self.word("an attribute (`key=value`)")?;
            let mut value_col = col;
            let value = if self.tokens.get(self.at).map(|t| &t.kind) == Some(&Tok::Eq) {
                self.at += 1;
                let t = self.tokens.get(self.at).cloned().ok_or_else(|| {
                    self.err_at(self.end, format!("expected a value for `{key}`"))
                })?;
                value_col = t.col;
                match t.kind {
                    Tok::Word(w) | Tok::Number(w) => {
                        self.at += 1;
                        Value::Atom(w)
                    }
                    Tok::Open => {
                        let (v, _) = self.list::<String>(&format!("`{key}`"))?;
                        // Re-lexing keeps columns simple: numbers inside a list are checked when used.
                        Value::List(v.into_iter().map(|s| (s, t.col)).collect())
                    }
                    _ => return Err(self.unexpected(&t, &format!("a value for `{key}`"))),
                }
            } else {
                Value::Flag
            };
            if items.insert(key.clone(), (value, col, value_col)).is_some() {
                return Err(self.err_at(col, format!("attribute `{key}` is given twice")));
            }
        }
        Ok(Attrs { items })
    }
}

fn pick<T: Copy>(
    l: &Line,
    w: &str,
    col: usize,
    what: &str,
    options: &[(&str, T)],
) -> Result<T, ParseError> {
    options
        .iter()
        .find(|(n, _)| *n == w)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            l.err_at(
                col,
                format!("expected {what} ({}), found `{w}`", names.join(" or ")),
            )
        })
}

/// A handle `<prefix>N`; an index beyond a handle's 32 bits is refused like any other typo.
fn parse_handle<T>(
    l: &Line,
    w: &str,
    col: usize,
    prefix: char,
    what: &str,
) -> Result<Handle<T>, ParseError> {
    w.strip_prefix(prefix)
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<usize>().ok())
        .and_then(Handle::try_new)
        .ok_or_else(|| {
            l.err_at(
                col,
                format!("expected {what} as a handle `{prefix}N`, found `{w}`"),
            )
        })
}

impl Attrs {
    /// The value of `key` and the column of the value.
    fn take(&mut self, l: &Line, key: &str) -> Result<(Value, usize), ParseError> {
        self.items
            .remove(key)
            .map(|(v, _, col)| (v, col))
            .ok_or_else(|| l.err_at(l.end, format!("missing attribute `{key}`")))
    }
    fn raw(&mut self, l: &Line, key: &str) -> Result<(String, usize), ParseError> {
        match self.take(l, key)? {
            (Value::Atom(s), col) => Ok((s, col)),
            (_, col) => Err(l.err_at(col, format!("`{key}` needs a single value"))),
        }
    }
    fn number<T: std::str::FromStr>(&mut self, l: &Line, key: &str) -> Result<T, ParseError> {
        let (s, col) = self.raw(l, key)?;
        s.parse()
            .map_err(|_| l.err_at(col, format!("`{key}={s}` is not a valid number here")))
    }
    fn opt_number<T: std::str::FromStr>(
        &mut self,
        l: &Line,
        key: &str,
    ) -> Result<Option<T>, ParseError> {
        if self.items.contains_key(key) {
            self.number(l, key).map(Some)
        } else {
            Ok(None)
        }
    }
    /// A neuron parameter: a number, or a tensor handle (`t5`) holding one value per neuron.
    fn param(&mut self, l: &Line, key: &str) -> Result<ir::Param, ParseError> {
        let (s, col) = self.raw(l, key)?;
        if s.starts_with('t') {
            return parse_handle(l, &s, col, 't', &format!("`{key}`")).map(ir::Param::PerNeuron);
        }
        s.parse().map(ir::Param::Uniform).map_err(|_| {
            l.err_at(
                col,
                format!("`{key}={s}` is neither a number nor a tensor handle (`t5`)"),
            )
        })
    }
    fn opt_param(&mut self, l: &Line, key: &str) -> Result<Option<ir::Param>, ParseError> {
        if self.items.contains_key(key) {
            self.param(l, key).map(Some)
        } else {
            Ok(None)
        }
    }
    fn choice<T: Copy>(
        &mut self,
        l: &Line,
        key: &str,
        options: &[(&str, T)],
    ) -> Result<T, ParseError> {
        let (s, col) = self.raw(l, key)?;
        pick(l, &s, col, &format!("`{key}`"), options)
    }
    fn handle<T>(&mut self, l: &Line, key: &str, prefix: char) -> Result<Handle<T>, ParseError> {
        let (s, col) = self.raw(l, key)?;
        parse_handle(l, &s, col, prefix, &format!("`{key}`"))
    }
    fn opt_handle<T>(
        &mut self,
        l: &Line,
        key: &str,
        prefix: char,
    ) -> Result<Option<Handle<T>>, ParseError> {
        if self.items.contains_key(key) {
            self.handle(l, key, prefix).map(Some)
        } else {
            Ok(None)
        }
    }
    fn pair(&mut self, l: &Line, key: &str) -> Result<[usize; 2], ParseError> {
        match self.take(l, key)? {
            (Value::List(v), col) if v.len() == 2 => {
                let n = |s: &str| {
                    s.parse::<usize>().map_err(|_| {
                        l.err_at(
                            col,
                            format!("`{key}` needs two non-negative integers, found `{s}`"),
                        )
                    })
                };
                Ok([n(&v[0].0)?, n(&v[1].0)?])
            }
            (_, col) => Err(l.err_at(col, format!("`{key}` needs a pair `[a, b]`"))),
        }
    }
    fn flag(&mut self, key: &str) -> bool {
        self.items.remove(key).is_some()
    }
    fn finish(self, l: &Line, what: &str) -> Result<(), ParseError> {
        match self.items.iter().min_by_key(|(_, (_, col, _))| *col) {
            None => Ok(()),
            Some((key, (_, col, _))) => {
                Err(l.err_at(*col, format!("unknown attribute `{key}` for {what}")))
            }
        }
    }
}
