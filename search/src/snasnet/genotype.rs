//! The JSON form of a SNASNet cell genotype: `{"cnt_mat": "0302 0030 3003 0000", "matrix": [[..]], "cell": ..}`.

use crate::arch::snasnet::CellGenotype;
use serde_json::{Value, json};

/// The genotype as JSON: the text form, the 4x4 matrix (row = source node) and the cell type.
pub fn genotype_to_json(g: &CellGenotype) -> Value {
    json!({
        "cnt_mat": g.to_string(),
        "matrix": g.m,
        "cell": if g.has_backward() { "backward" } else { "forward" },
    })
}

/// Read a genotype from JSON: an object with `cnt_mat` (text form) and/or `matrix` (4x4 op codes;
/// both must agree when both are given), or a bare `cnt_mat` string.
pub fn genotype_from_json(v: &Value) -> Result<CellGenotype, String> {
    if let Some(s) = v.as_str() {
        return s.parse();
    }
    let obj = v
        .as_object()
        .ok_or("a genotype is a `cnt_mat` string or an object with `cnt_mat` or `matrix`")?;
    let from_text = obj
        .get("cnt_mat")
        .map(|t| {
            t.as_str()
                .ok_or("`cnt_mat` must be a string such as \"0302 0030 3003 0000\"")?
                .parse::<CellGenotype>()
        })
        .transpose()?;
    let from_matrix = match obj.get("matrix") {
        None => None,
        Some(m) => {
            let rows = m
                .as_array()
                .filter(|r| r.len() == 4)
                .ok_or("`matrix` must be 4 rows of 4 op codes")?;
            let mut text = Vec::with_capacity(4);
            for row in rows {
                let cells = row
                    .as_array()
                    .filter(|r| r.len() == 4)
                    .ok_or("`matrix` must be 4 rows of 4 op codes")?;
                let mut s = String::with_capacity(4);
                for c in cells {
                    let d = c
                        .as_u64()
                        .filter(|&d| d <= 4)
                        .ok_or("`matrix` op codes are integers 0-4")?;
                    s.push(char::from(b'0' + d as u8));
                }
                text.push(s);
            }
            Some(text.join(" ").parse::<CellGenotype>()?)
        }
    };
    match (from_text, from_matrix) {
        (Some(a), Some(b)) if a != b => Err(format!("`cnt_mat` ({a}) and `matrix` ({b}) disagree")),
        (Some(a), _) | (None, Some(a)) => Ok(a),
        (None, None) => Err("a genotype object needs `cnt_mat` or `matrix`".into()),
    }
}
