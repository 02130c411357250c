//! Dataset samples as module input: the same mapping training uses, without Candle.
//!
//! Images are scaled and normalised with the dataset's constants, zero-padded when the module's
//! input is larger (28 -> 32), or read flat for a `[N]` input. Event streams become `T` frames
//! of per-pixel counts split by event count (SpikingJelly's `split_by='number'`, the training
//! default), centre-cropped when the input is smaller than the sensor (34 -> 32).

use crate::error::RuntimeError;
use crate::exec::Inputs;
use crate::plan::Plan;
use snnc_datasets::transform::{
    FrameSpec, FrameSplit, ImageTransform, Normalization, events_to_frames,
};
use snnc_datasets::{Dataset, DatasetName, Split};
use std::path::Path;

/// How one dataset's samples become one module's input.
#[derive(Debug, Clone, PartialEq)]
enum Mapping {
    Images(ImageTransform),
    Frames(FrameSpec),
}

/// The first `len` samples of a dataset split, produced on demand as module input.
#[derive(Debug, Clone)]
pub struct DatasetInputs {
    data: Dataset,
    mapping: Mapping,
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
        let input = &plan.pops[plan.input];
        let dims = [input.layout.c, input.layout.h, input.layout.w];
        let mismatch = |message: String| RuntimeError::Mismatch {
            dataset: data.name().to_string(),
            module: plan.name.clone(),
            message,
        };
        let mapping = match (&data, plan.event_frames()) {
            (Dataset::Images(set), false) => {
                let [c, h, w] = set.shape();
                let mut tf = ImageTransform {
                    normalize: Normalization::for_dataset(set.name),
                    ..ImageTransform::default()
                };
                if input.layout.flat {
                    if input.numel() != c * h * w {
                        return Err(mismatch(format!(
                            "the module's input is [{}] but samples are [{c}, {h}, {w}] ({} values)",
                            input.numel(),
                            c * h * w
                        )));
                    }
                } else {
                    let [ic, ih, iw] = dims;
                    if ic != c || ih != iw || h != w || ih < h {
                        return Err(mismatch(format!(
                            "the module's input is [{ic}, {ih}, {iw}] but samples are [{c}, {h}, {w}]; a conv input must be [{c}, S, S] with S >= {h} (zero-padded)"
                        )));
                    }
                    if ih != h {
                        tf.pad_to = Some(ih);
                    }
                }
                Mapping::Images(tf)
            }
            (Dataset::Events(set), true) => {
                let [ic, ih, iw] = dims;
                if input.layout.flat || ic != 2 || ih != iw || ih > set.height.min(set.width) {
                    return Err(mismatch(format!(
                        "event frames are [2, {}, {}] (centre-cropped to a smaller square if needed), but the module's input is {}",
                        set.height,
                        set.width,
                        if input.layout.flat {
                            format!("[{}]", input.numel())
                        } else {
                            format!("[{ic}, {ih}, {iw}]")
                        }
                    )));
                }
                let crop_to = if ih == set.height && iw == set.width {
                    None
                } else {
                    Some(ih)
                };
                Mapping::Frames(FrameSpec {
                    timesteps: plan.timesteps,
                    split: FrameSplit::ByCount,
                    crop_to,
                })
            }
            (Dataset::Images(_), true) => {
                return Err(mismatch(
                    "the module takes event frames but the dataset holds images".into(),
                ));
            }
            (Dataset::Events(_), false) => {
                return Err(mismatch(
                    "the dataset holds events but the module takes direct-encoded frames".into(),
                ));
            }
        };
        if data.num_classes() > plan.num_classes {
            return Err(mismatch(format!(
                "the dataset has {} classes, the module's readout {}",
                data.num_classes(),
                plan.num_classes
            )));
        }
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
}

impl Inputs for DatasetInputs {
    fn len(&self) -> usize {
        self.len
    }

    fn fill(&self, i: usize, out: &mut Vec<f32>) -> Result<(), RuntimeError> {
        match (&self.mapping, &self.data) {
            (Mapping::Images(tf), Dataset::Images(set)) => {
                out.resize(tf.output_len(set), 0.0);
                tf.write_sample(set, i, None, out);
            }
            (Mapping::Frames(spec), Dataset::Events(set)) => {
                out.resize(spec.output_len(set.width, set.height), 0.0);
                events_to_frames(&set.samples[i], set.width, set.height, spec, out);
            }
            // `new` pairs each mapping with its kind of dataset.
            _ => unreachable!("mapping and dataset kinds are matched in DatasetInputs::new"),
        }
        Ok(())
    }
}
