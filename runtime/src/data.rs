//! Dataset samples as module input, by the one rule training uses (`snnc_datasets::input_mapping`).
//!
//! Images are scaled and normalised with the dataset's constants, zero-padded when the module's
//! input is larger (28 -> 32), or read flat for a `[N]` input. Event streams become `T` frames
//! of per-pixel counts split by event count (SpikingJelly's `split_by='number'`, the training
//! default), centre-cropped when the input is smaller than the sensor (34 -> 32).

use crate::error::RuntimeError;
use crate::exec::Inputs;
use crate::plan::Plan;
use snnc_datasets::transform::{FrameSplit, events_to_frames};
use snnc_datasets::{
    Dataset, DatasetName, InputEncoding, InputMapping, NetworkInput, Split, input_mapping,
};
use std::path::Path;

/// The first `len` samples of a dataset split, produced on demand as module input.
#[derive(Debug, Clone)]
pub struct DatasetInputs {
    data: Dataset,
    mapping: InputMapping,
    len: usize,
}

impl DatasetInputs {
    /// Read split `split` of `name` from `dir` and fit it to `plan`'s input; at most `limit` samples.
    pub fn load(
        plan: &Plan,
        name: DatasetName,
        dir: &Path,
        split: Split,
        limit: Option<usize>,
    ) -> Result<Self, RuntimeError> {
        let data = snnc_datasets::load(name, dir, split).map_err(Box::new)?;
        Self::new(plan, data, limit)
    }

    pub fn new(plan: &Plan, data: Dataset, limit: Option<usize>) -> Result<Self, RuntimeError> {
        let layout = &plan.pops[plan.input].layout;
        let shape = if layout.flat {
            vec![plan.pops[plan.input].numel()]
        } else {
            vec![layout.c, layout.h, layout.w]
        };
        let input = NetworkInput {
            shape: &shape,
            encoding: if plan.event_frames() {
                InputEncoding::EventFrames
            } else {
                InputEncoding::Direct
            },
            timesteps: plan.timesteps,
            num_classes: plan.num_classes,
        };
        // Frames are split by event count, the training default.
        let mapping = input_mapping(&data, &input, FrameSplit::ByCount).map_err(|e| {
            RuntimeError::Mismatch {
                dataset: data.name().to_string(),
                module: plan.name.clone(),
                message: e.to_string(),
            }
        })?;
        let len = limit.map_or(data.len(), |l| l.min(data.len()));
        Ok(DatasetInputs { data, mapping, len })
    }

    /// Labels of the samples served, in order.
    pub fn labels(&self) -> &[u8] {
        &self.data.labels()[..self.len]
    }

    pub fn dataset(&self) -> &Dataset {
        &self.data
    }

    /// How samples are fitted to the input (`snnc_datasets::input_mapping`, as in training).
    pub fn mapping(&self) -> &InputMapping {
        &self.mapping
    }
}

impl Inputs for DatasetInputs {
    fn len(&self) -> usize {
        self.len
    }

    fn fill(&self, i: usize, out: &mut Vec<f32>) -> Result<(), RuntimeError> {
        match (&self.mapping, &self.data) {
            (InputMapping::Images { transform: tf, .. }, Dataset::Images(set)) => {
                out.resize(tf.output_len(set), 0.0);
                tf.write_sample(set, i, None, out);
            }
            (InputMapping::Frames(spec), Dataset::Events(set)) => {
                out.resize(spec.output_len(set.width, set.height), 0.0);
                events_to_frames(&set.samples[i], set.width, set.height, spec, out);
            }
            // `new` pairs each mapping with its kind of dataset.
            _ => unreachable!("mapping and dataset kinds are matched in DatasetInputs::new"),
        }
        Ok(())
    }
}
