//! The built-in targets, embedded from `targets/data/*.json`, and lookup by name or path.

use crate::error::TargetError;
use crate::model::Target;
use std::path::Path;

/// The target used when none is named.
pub const DEFAULT_TARGET: &str = "cmos45-fp32";

/// Name and file text of every built-in target; the default first.
const BUILTINS: [(&str, &str); 4] = [
    ("cmos45-fp32", include_str!("../data/cmos45-fp32.json")),
    ("cmos45-int8", include_str!("../data/cmos45-int8.json")),
    ("loihi", include_str!("../data/loihi.json")),
    ("truenorth", include_str!("../data/truenorth.json")),
];

/// Names of the built-in targets, the default first.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(name, _)| *name).collect()
}

impl Target {
    /// A built-in target by name.
    pub fn builtin(name: &str) -> Result<Target, TargetError> {
        let (_, text) = BUILTINS
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| unknown(name))?;
        Target::from_json(text, &format!("builtin:{name}"))
    }

    /// Every built-in target, the default first.
    pub fn builtins() -> Result<Vec<Target>, TargetError> {
        BUILTINS
            .iter()
            .map(|(name, _)| Target::builtin(name))
            .collect()
    }

    /// The default target, [`DEFAULT_TARGET`].
    pub fn default_target() -> Target {
        Target::builtin(DEFAULT_TARGET)
            .expect("the built-in tables are validated by the crate's tests")
    }

    /// A built-in name, or else the path of a target file. Built-in names win; write
    /// `./loihi` to load a file that happens to share a built-in's name.
    pub fn resolve(name_or_path: &str) -> Result<Target, TargetError> {
        if BUILTINS.iter().any(|(n, _)| *n == name_or_path) {
            return Target::builtin(name_or_path);
        }
        let path = Path::new(name_or_path);
        let looks_like_path = name_or_path.contains(['/', '\\']) || path.extension().is_some();
        if looks_like_path || path.exists() {
            return Target::from_path(path);
        }
        Err(unknown(name_or_path))
    }
}

fn unknown(name: &str) -> TargetError {
    TargetError::UnknownTarget {
        name: name.to_string(),
        valid: builtin_names().into_iter().map(String::from).collect(),
    }
}
