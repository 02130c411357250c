//! Reports: counts priced on a target, as a table, JSON, CSV and SVG.
