//! Hardware descriptions: per-operation energy tables with provenance, resource limits and numeric formats.
