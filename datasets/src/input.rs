//! One rule from a dataset to a network's input: the geometry a network is built for, and the
//! mapping that feeds the dataset's samples to a network's declared input.
//!
//! Every consumer goes through this module: `snnc arch`, both searches and the pipeline build
//! with [`network_input`]; training, evaluation, the searches' scoring and the runtime feed with
//! [`input_mapping`]. So a network built for a dataset is fed the way it was built, everywhere.
//!
//! Two transforms exist, both documented here and described by [`InputMapping::transform_note`]:
//! an image is zero-padded onto a larger square canvas (28 -> 32), and event frames are
//! centre-cropped to a smaller square (N-MNIST's 34 x 34 sensor -> 32). Anything else (a smaller
//! image input, a larger event input, a non-square input, the wrong encoding, too few classes) is
//! an [`InputMismatch`], never a silent fix.

use std::fmt;

use thiserror::Error;

use crate::name::DatasetName;
use crate::set::Dataset;
use crate::transform::{FrameSpec, FrameSplit, ImageTransform, Normalization};

/// Side of N-MNIST frames as networks take them: the 34 x 34 sensor without its one-pixel border,
/// so that 2x downsamplings divide it.
pub const NMNIST_FRAME_SIDE: usize = 32;

/// How a network's input is encoded over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputEncoding {
    /// The same frame at every timestep (images).
    Direct,
    /// One frame of event counts per timestep.
    EventFrames,
}

/// The input side of a dataset as a network built for it sees it: `[channels, side, side]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputGeometry {
    pub channels: usize,
    pub side: usize,
    pub encoding: InputEncoding,
    pub num_classes: usize,
}

impl InputGeometry {
    /// `[channels, side, side]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.side, self.side]
    }
}

/// What an architecture family asks of the input side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SideRule {
    /// The dataset's own side (SNASNet: MNIST stays 28); N-MNIST frames are
    /// [`NMNIST_FRAME_SIDE`].
    Native,
    /// A fixed side every dataset is fitted to (AutoSNN: 32, which three 2x max-pools divide):
    /// images are zero-padded up to it, event frames centre-cropped down to it. It must be at
    /// least every image side and at most the event sensor's (32 is).
    Fixed(usize),
}

/// The side AutoSNN networks take, whatever the dataset.
pub const AUTOSNN_SIDE: SideRule = SideRule::Fixed(32);

/// The input geometry of a network built for `dataset` under `rule`.
pub fn network_input(dataset: DatasetName, rule: SideRule) -> InputGeometry {
    let [channels, native_side, _] = dataset.raw_shape();
    let (encoding, native_side) = if dataset.is_events() {
        (InputEncoding::EventFrames, NMNIST_FRAME_SIDE)
    } else {
        (InputEncoding::Direct, native_side)
    };
    InputGeometry {
        channels,
        side: match rule {
            SideRule::Native => native_side,
            SideRule::Fixed(side) => side,
        },
        encoding,
        num_classes: dataset.num_classes(),
    }
}

/// A network's declared input, as the feeder sees it.
#[derive(Debug, Clone, Copy)]
pub struct NetworkInput<'a> {
    /// `[C, H, W]` for a conv net, `[N]` for an MLP.
    pub shape: &'a [usize],
    pub encoding: InputEncoding,
    pub timesteps: usize,
    pub num_classes: usize,
}

/// How one dataset's samples become one network's input, without augmentation.
#[derive(Debug, Clone, PartialEq)]
pub enum InputMapping {
    /// Normalised images, zero-padded to `transform.pad_to` when the input is larger; `flatten`
    /// reads them as one `[C*H*W]` vector (an MLP).
    Images {
        transform: ImageTransform,
        flatten: bool,
    },
    /// `T` event frames, centre-cropped when `spec.crop_to` is set.
    Frames(FrameSpec),
}

impl InputMapping {
    /// A sentence describing the transform applied, or `None` when samples are fed as stored.
    pub fn transform_note(&self) -> Option<String> {
        match self {
            InputMapping::Images { transform, .. } => transform
                .pad_to
                .map(|s| format!("images are zero-padded to {s}x{s}")),
            InputMapping::Frames(spec) => spec
                .crop_to
                .map(|s| format!("event frames are centre-cropped to {s}x{s}")),
        }
    }
}

impl fmt::Display for InputMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.transform_note() {
            Some(note) => f.write_str(&note),
            None => f.write_str("samples are fed as stored"),
        }
    }
}

/// Why a dataset cannot feed a network's input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InputMismatch {
    #[error(
        "{dataset} samples are {sample:?} but the network's input is {input:?}; an MLP takes [{}], \
         a conv net [{}, S, S] with S >= {} (zero-padded)",
        sample.iter().product::<usize>(), sample[0], sample[1]
    )]
    ImageShape {
        dataset: DatasetName,
        sample: [usize; 3],
        input: Vec<usize>,
    },
    #[error(
        "{dataset} event frames are [2, {}, {}] (centre-cropped to a smaller square if asked), \
         but the network's input is {input:?}",
        sensor[0], sensor[1]
    )]
    EventShape {
        dataset: DatasetName,
        /// Sensor height and width.
        sensor: [usize; 2],
        input: Vec<usize>,
    },
    #[error(
        "the network takes event frames (input.encoding = event_frames) but {dataset} holds images"
    )]
    ImagesIntoEventFrames { dataset: DatasetName },
    #[error(
        "{dataset} holds events but the network takes direct-encoded frames (it needs \
         input.encoding = event_frames)"
    )]
    EventsIntoDirect { dataset: DatasetName },
    #[error("{dataset} has {classes} classes but the network's readout has {readout}")]
    TooManyClasses {
        dataset: DatasetName,
        classes: usize,
        readout: usize,
    },
}

/// How `data` feeds `input`, or why it cannot. Images are normalised with the dataset's
/// constants and zero-padded to a larger square; events are binned into `input.timesteps`
/// frames by `split` and centre-cropped to a smaller square.
pub fn input_mapping(
    data: &Dataset,
    input: &NetworkInput,
    split: FrameSplit,
) -> Result<InputMapping, InputMismatch> {
    let dataset = data.name();
    if data.num_classes() > input.num_classes {
        return Err(InputMismatch::TooManyClasses {
            dataset,
            classes: data.num_classes(),
            readout: input.num_classes,
        });
    }
    match (data, input.encoding) {
        (Dataset::Images(set), InputEncoding::Direct) => {
            image_mapping(dataset, set.shape(), input.shape)
        }
        (Dataset::Events(set), InputEncoding::EventFrames) => {
            let sensor = [set.height, set.width];
            frame_mapping(dataset, sensor, input, split)
        }
        (Dataset::Images(_), InputEncoding::EventFrames) => {
            Err(InputMismatch::ImagesIntoEventFrames { dataset })
        }
        (Dataset::Events(_), InputEncoding::Direct) => {
            Err(InputMismatch::EventsIntoDirect { dataset })
        }
    }
}

fn image_mapping(
    dataset: DatasetName,
    sample: [usize; 3],
    want: &[usize],
) -> Result<InputMapping, InputMismatch> {
    let [c, h, w] = sample;
    let transform = |pad_to| ImageTransform {
        pad_to,
        normalize: Normalization::for_dataset(dataset),
        ..ImageTransform::default()
    };
    match *want {
        [n] if n == c * h * w => Ok(InputMapping::Images {
            transform: transform(None),
            flatten: true,
        }),
        [wc, wh, ww] if wc == c && wh == ww && h == w && wh >= h => Ok(InputMapping::Images {
            transform: transform((wh != h).then_some(wh)),
            flatten: false,
        }),
        _ => Err(InputMismatch::ImageShape {
            dataset,
            sample,
            input: want.to_vec(),
        }),
    }
}

fn frame_mapping(
    dataset: DatasetName,
    sensor: [usize; 2],
    input: &NetworkInput,
    split: FrameSplit,
) -> Result<InputMapping, InputMismatch> {
    let [h, w] = sensor;
    match *input.shape {
        [2, wh, ww] if wh == ww && wh <= h.min(w) => Ok(InputMapping::Frames(FrameSpec {
            timesteps: input.timesteps,
            split,
            crop_to: (wh != h || ww != w).then_some(wh),
        })),
        _ => Err(InputMismatch::EventShape {
            dataset,
            sensor,
            input: input.shape.to_vec(),
        }),
    }
}
