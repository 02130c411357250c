//! The typed description of one hardware target: priced rows with their sources, limits, formats.

use crate::energy::Count;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// A hardware target: how much each counted operation costs, where each figure comes from, what
/// the hardware can hold and which number formats it computes in.
///
/// Built by [`Target::builtin`], [`Target::from_path`], [`Target::from_json`] or
/// [`Target::resolve`], which all validate: every energy is finite and non-negative, every row
/// names a source the file lists, and the pricing is either per operation or all in.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Short name used on the command line and in reports (`cmos45-fp32`).
    pub name: String,
    /// One paragraph: what the target is and what its figures assume.
    pub description: String,
    /// The publications the rows cite, keyed by the id rows use in their `source` field.
    pub sources: BTreeMap<String, Source>,
    /// How counts become energy.
    pub pricing: Pricing,
    /// Resource limits a mapper must check, where the sources give them.
    pub limits: Option<Limits>,
    /// Number formats of weights, state and graded values.
    pub formats: Formats,
    /// Figures recorded for context (alternatives, ranges, components of derived rows) that price
    /// no count.
    pub reference: BTreeMap<String, Row>,
}

/// How a target turns counts into energy.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "a process holds a handful of targets; boxing would only add noise"
)]
pub enum Pricing {
    /// Arithmetic, memory and spike traffic priced separately, each from its own row.
    PerOperation {
        arithmetic: Arithmetic,
        memory: Option<Memory>,
        communication: Option<Communication>,
    },
    /// One whole-chip figure per event (TrueNorth): memory and neuron work are inside it.
    AllIn(AllIn),
}

/// Arithmetic rows; each prices the count named in its doc.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arithmetic {
    /// Per SOP ([`Count::Sops`]): E_AC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sop: Option<Row>,
    /// Per MAC ([`Count::Macs`]): E_MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<Row>,
    /// Per pooling op ([`Count::PoolingOps`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooling_op: Option<Row>,
    /// Per affine op ([`Count::AffineOps`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affine_op: Option<Row>,
    /// Per neuron update ([`Count::NeuronUpdates`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neuron_update: Option<Row>,
    /// Per synaptic-current update ([`Count::CurrentUpdates`]). Files written before the count
    /// existed lack it: the count is then unpriced (listed, left out of the total), never an
    /// error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_update: Option<Row>,
}

/// Memory rows, for one stated SRAM size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    /// Size of the SRAM array whose access energy the rows price, in KiB.
    pub sram_kib: u64,
    /// Per weight value read ([`Count::WeightReads`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_read: Option<Row>,
    /// Per state value read ([`Count::StateReads`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_read: Option<Row>,
    /// Per state value written ([`Count::StateWrites`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_write: Option<Row>,
}

/// Spike-traffic rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Communication {
    /// Per spike emitted ([`Count::Spikes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spike: Option<Row>,
}

/// One all-in figure per event, and the counts it prices and covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllIn {
    /// The figure per event and its provenance.
    pub per_event: Row,
    /// Counts whose events are each charged the figure (their sum is the event count).
    pub prices: Vec<Count>,
    /// Counts whose energy the figure already includes: never priced, never reported unpriced.
    #[serde(default)]
    pub covers: Vec<Count>,
}

/// One figure: an energy in picojoules, what operation it is, and where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// Energy per event in picojoules (finite, >= 0).
    #[serde(deserialize_with = "energy_pj")]
    pub pj: f64,
    /// Upper end when the source gives a range (`pj` is then the lower end).
    #[serde(
        default,
        deserialize_with = "optional_energy_pj",
        skip_serializing_if = "Option::is_none"
    )]
    pub pj_max: Option<f64>,
    /// What one event is, in the words of the hardware.
    pub op: String,
    /// Id of an entry of the target's `sources`.
    pub source: String,
    /// Where in the source: table, figure or section, and the entry.
    #[serde(rename = "where")]
    pub location: String,
    /// How the figure follows from the source's figures, when it is not printed there as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived: Option<String>,
    /// Caveats: assumptions, bounds, flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Row {
    /// The energy in joules.
    pub fn joules(&self) -> f64 {
        self.pj * 1e-12
    }
}

/// A publication rows cite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Authors, title, venue, year.
    pub citation: String,
    pub year: u16,
    /// How the source obtained its figures.
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How a source obtained its figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Measured on fabricated silicon.
    Measured,
    /// Simulated before fabrication (netlist timing and SPICE): not a chip measurement.
    PreSilicon,
    /// Published per-operation estimates for a process node, not one chip.
    Estimate,
    /// The user's own figures.
    User,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Measured => "measured",
            Status::PreSilicon => "pre_silicon",
            Status::Estimate => "estimate",
            Status::User => "user",
        }
    }
}

/// Resource limits a mapper must check. Every field is optional: absent means the sources give
/// no figure, not that there is no limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neurons_per_core: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neurons_per_chip: Option<u64>,
    /// Distinct inputs (axons) one core accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fan_in_per_core: Option<u64>,
    /// Destinations one core sends to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fan_out_per_core: Option<u64>,
    /// Destinations one neuron sends to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fan_out_per_neuron: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synapses_per_core: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synapse_memory_bytes_per_core: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synapse_memory_bytes_per_chip: Option<u64>,
    /// Width of a synaptic delay field: delays run 0 ..= 2^bits - 1 steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_bits: Option<u32>,
    /// Id of an entry of the target's `sources`.
    pub source: String,
    #[serde(rename = "where")]
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Number formats the target computes in; absent means the target has no such values or the
/// sources do not say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Formats {
    /// Synaptic weights.
    pub weights: NumberFormat,
    /// Neuron state (membrane potential, currents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<NumberFormat>,
    /// Graded (non-binary) event values; absent on binary-spike hardware.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graded: Option<NumberFormat>,
    /// Leak / decay factors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decay: Option<NumberFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A number format, written `fp32`, `fp16`, `bf16`, `int8`, `uint12` ... in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberFormat {
    /// IEEE binary float of 16, 32 or 64 bits.
    Float { bits: u8 },
    /// bfloat16.
    BFloat16,
    /// Two's-complement (`signed`) or unsigned integer of 1 to 64 bits.
    Int { bits: u8, signed: bool },
}

impl NumberFormat {
    pub fn bits(self) -> u8 {
        match self {
            NumberFormat::Float { bits } | NumberFormat::Int { bits, .. } => bits,
            NumberFormat::BFloat16 => 16,
        }
    }
}

impl fmt::Display for NumberFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NumberFormat::Float { bits } => write!(f, "fp{bits}"),
            NumberFormat::BFloat16 => f.write_str("bf16"),
            NumberFormat::Int { bits, signed: true } => write!(f, "int{bits}"),
            NumberFormat::Int {
                bits,
                signed: false,
            } => write!(f, "uint{bits}"),
        }
    }
}

/// A number format name that is none of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown number format `{0}`; expected fp16, fp32, fp64, bf16, intN or uintN (N = 1..64)")]
pub struct UnknownNumberFormat(pub String);

impl std::str::FromStr for NumberFormat {
    type Err = UnknownNumberFormat;

    fn from_str(s: &str) -> Result<Self, UnknownNumberFormat> {
        let bad = || UnknownNumberFormat(s.to_string());
        if s == "bf16" {
            return Ok(NumberFormat::BFloat16);
        }
        if let Some(bits) = s.strip_prefix("fp") {
            return match bits {
                "16" | "32" | "64" => Ok(NumberFormat::Float {
                    bits: bits.parse().map_err(|_| bad())?,
                }),
                _ => Err(bad()),
            };
        }
        let (signed, bits) = match (s.strip_prefix("uint"), s.strip_prefix("int")) {
            (Some(b), _) => (false, b),
            (None, Some(b)) => (true, b),
            _ => return Err(bad()),
        };
        if bits.starts_with('0') || !bits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        match bits.parse::<u8>() {
            Ok(bits @ 1..=64) => Ok(NumberFormat::Int { bits, signed }),
            _ => Err(bad()),
        }
    }
}

impl Serialize for NumberFormat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NumberFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Energies must be finite and non-negative; checked while parsing so the error carries the
/// file position.
fn check_pj<E: serde::de::Error>(pj: f64) -> Result<f64, E> {
    if pj.is_finite() && pj >= 0.0 {
        Ok(pj)
    } else {
        Err(E::custom(format_args!(
            "energy must be a finite number of picojoules >= 0, got {pj}"
        )))
    }
}

fn energy_pj<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    check_pj(f64::deserialize(d)?)
}

fn optional_energy_pj<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Option::<f64>::deserialize(d)?.map(check_pj).transpose()
}
