//! The target file format (JSON): parsing with positions, validation, and writing back.

use crate::error::TargetError;
use crate::model::{
    AllIn, Arithmetic, Communication, Formats, Limits, Memory, Pricing, Row, Source, Target,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A target file as written: pricing sections are all optional here; validation admits either
/// `arithmetic` (with optional `memory` and `communication`) or `all_in`, not both.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetFile {
    name: String,
    description: String,
    sources: BTreeMap<String, Source>,
    formats: Formats,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    arithmetic: Option<Arithmetic>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    memory: Option<Memory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    communication: Option<Communication>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    all_in: Option<AllIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limits: Option<Limits>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    reference: BTreeMap<String, Row>,
}

impl Target {
    /// Parses and validates a target from JSON text; `origin` names the text in errors (a path,
    /// or `builtin:NAME`).
    pub fn from_json(text: &str, origin: &str) -> Result<Target, TargetError> {
        let file: TargetFile = serde_json::from_str(text).map_err(|e| syntax_error(&e, origin))?;
        Checker { text, origin }.target(file)
    }

    /// Reads, parses and validates a target file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Target, TargetError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| TargetError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Target::from_json(&text, &path.display().to_string())
    }

    /// The target in the file format, pretty-printed: what `from_json` reads back to an equal
    /// target. A starting point for a user's own file.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&TargetFile::from(self)).expect("a target always serialises")
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        TargetFile::from(self).serialize(s)
    }
}

impl From<&Target> for TargetFile {
    fn from(t: &Target) -> TargetFile {
        let (arithmetic, memory, communication, all_in) = match &t.pricing {
            Pricing::PerOperation {
                arithmetic,
                memory,
                communication,
            } => (
                Some(arithmetic.clone()),
                memory.clone(),
                communication.clone(),
                None,
            ),
            Pricing::AllIn(a) => (None, None, None, Some(a.clone())),
        };
        TargetFile {
            name: t.name.clone(),
            description: t.description.clone(),
            sources: t.sources.clone(),
            formats: t.formats.clone(),
            arithmetic,
            memory,
            communication,
            all_in,
            limits: t.limits.clone(),
            reference: t.reference.clone(),
        }
    }
}

/// serde_json's message without its trailing position, which the error carries separately.
fn syntax_error(e: &serde_json::Error, origin: &str) -> TargetError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    TargetError::Syntax {
        file: origin.to_string(),
        line: e.line(),
        column: e.column(),
        message,
    }
}

/// Validation after parsing: the checks that need more than one field.
struct Checker<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Checker<'_> {
    /// An `Invalid` error, pointing at the first line holding all of `needles` when there is one.
    fn invalid(
        &self,
        field: impl Into<String>,
        problem: impl Into<String>,
        needles: &[&str],
    ) -> TargetError {
        let line = (!needles.is_empty())
            .then(|| {
                self.text
                    .lines()
                    .position(|l| needles.iter().all(|n| l.contains(n)))
                    .map(|i| i + 1)
            })
            .flatten();
        TargetError::Invalid {
            file: self.origin.to_string(),
            line,
            field: field.into(),
            problem: problem.into(),
        }
    }

    fn target(&self, f: TargetFile) -> Result<Target, TargetError> {
        if f.name.trim().is_empty() || f.name.chars().any(char::is_whitespace) {
            return Err(self.invalid(
                "name",
                format!(
                    "`{}` is not a name: give a non-empty name without spaces",
                    f.name
                ),
                &["\"name\""],
            ));
        }
        if f.sources.is_empty() {
            return Err(self.invalid(
                "sources",
                "list at least one source: every row must cite one",
                &["\"sources\""],
            ));
        }
        let pricing = self.pricing(f.arithmetic, f.memory, f.communication, f.all_in)?;
        let target = Target {
            name: f.name,
            description: f.description,
            sources: f.sources,
            pricing,
            limits: f.limits,
            formats: f.formats,
            reference: f.reference,
        };
        self.sources_exist(&target)?;
        Ok(target)
    }

    fn pricing(
        &self,
        arithmetic: Option<Arithmetic>,
        memory: Option<Memory>,
        communication: Option<Communication>,
        all_in: Option<AllIn>,
    ) -> Result<Pricing, TargetError> {
        match all_in {
            Some(all_in) => {
                for (present, key) in [
                    (arithmetic.is_some(), "arithmetic"),
                    (memory.is_some(), "memory"),
                    (communication.is_some(), "communication"),
                ] {
                    if present {
                        return Err(self.invalid(
                            key,
                            "a target with `all_in` prices nothing else (its figure already includes memory and neuron work); remove this section or `all_in`",
                            &[&format!("\"{key}\"")],
                        ));
                    }
                }
                self.all_in(&all_in)?;
                Ok(Pricing::AllIn(all_in))
            }
            None => {
                let Some(arithmetic) = arithmetic else {
                    return Err(self.invalid(
                        "arithmetic",
                        "no pricing: give `arithmetic` (with optional `memory` and `communication`) or `all_in`",
                        &[],
                    ));
                };
                if let Some(m) = &memory
                    && m.sram_kib == 0
                {
                    return Err(self.invalid(
                        "memory.sram_kib",
                        "the SRAM size priced must be at least 1 KiB",
                        &["\"sram_kib\""],
                    ));
                }
                let pricing = Pricing::PerOperation {
                    arithmetic,
                    memory,
                    communication,
                };
                if rows(&pricing).is_empty() {
                    return Err(self.invalid(
                        "arithmetic",
                        "the target prices no count: give at least one row",
                        &["\"arithmetic\""],
                    ));
                }
                Ok(pricing)
            }
        }
    }

    fn all_in(&self, a: &AllIn) -> Result<(), TargetError> {
        if a.prices.is_empty() {
            return Err(self.invalid(
                "all_in.prices",
                "name at least one count the figure prices (usually \"sops\")",
                &["\"prices\""],
            ));
        }
        let mut seen = BTreeSet::new();
        for c in a.prices.iter().chain(&a.covers) {
            if !seen.insert(*c) {
                return Err(self.invalid(
                    "all_in",
                    format!("`{c}` is listed twice across `prices` and `covers`: a count is either priced or covered"),
                    &[],
                ));
            }
        }
        Ok(())
    }

    /// Every row, and the limits, must cite an entry of `sources`; a range must not run backwards.
    fn sources_exist(&self, t: &Target) -> Result<(), TargetError> {
        let mut cited: Vec<(String, &Row)> = rows(&t.pricing);
        cited.extend(
            t.reference
                .iter()
                .map(|(k, r)| (format!("reference.{k}"), r)),
        );
        for (field, row) in &cited {
            if !t.sources.contains_key(&row.source) {
                return Err(self.unknown_source(field, &row.source, t));
            }
            if let Some(max) = row.pj_max
                && max < row.pj
            {
                return Err(self.invalid(
                    format!("{field}.pj_max"),
                    format!("the range runs backwards: pj_max {max} < pj {}", row.pj),
                    &["\"pj_max\"", &max.to_string()],
                ));
            }
        }
        if let Some(l) = &t.limits
            && !t.sources.contains_key(&l.source)
        {
            return Err(self.unknown_source("limits", &l.source, t));
        }
        Ok(())
    }

    fn unknown_source(&self, field: &str, id: &str, t: &Target) -> TargetError {
        let known: Vec<&str> = t.sources.keys().map(String::as_str).collect();
        self.invalid(
            format!("{field}.source"),
            format!(
                "cites source `{id}`, which `sources` does not list (it lists: {})",
                known.join(", ")
            ),
            &["\"source\"", &format!("\"{id}\"")],
        )
    }
}

/// Every pricing row with its field path (`arithmetic.sop`, `all_in.per_event`).
fn rows(p: &Pricing) -> Vec<(String, &Row)> {
    match p {
        Pricing::AllIn(a) => vec![("all_in.per_event".to_string(), &a.per_event)],
        Pricing::PerOperation {
            arithmetic: a,
            memory,
            communication,
        } => {
            let mut out: Vec<(&str, Option<&Row>)> = vec![
                ("arithmetic.sop", a.sop.as_ref()),
                ("arithmetic.mac", a.mac.as_ref()),
                ("arithmetic.pooling_op", a.pooling_op.as_ref()),
                ("arithmetic.affine_op", a.affine_op.as_ref()),
                ("arithmetic.neuron_update", a.neuron_update.as_ref()),
                ("arithmetic.current_update", a.current_update.as_ref()),
            ];
            if let Some(m) = memory {
                out.extend([
                    ("memory.weight_read", m.weight_read.as_ref()),
                    ("memory.state_read", m.state_read.as_ref()),
                    ("memory.state_write", m.state_write.as_ref()),
                ]);
            }
            if let Some(c) = communication {
                out.push(("communication.spike", c.spike.as_ref()));
            }
            out.into_iter()
                .filter_map(|(k, r)| r.map(|r| (k.to_string(), r)))
                .collect()
        }
    }
}
