//! A dataset as batches of a network's input: the one fitting rule of `snnc_datasets`, plus
//! training-time augmentation and batching into tensors.

use candle_core::{Device, Result as CResult, Tensor};
use snnc_compiler::network::Network;
use snnc_datasets::transform::{
    FrameSpec, FrameSplit, ImageTransform, Rng, frames_batch, images_batch,
};
use snnc_datasets::{
    Dataset, DatasetName, InputMapping, InputMismatch, NetworkInput, input_mapping,
};

/// Training-time augmentation of image datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Augment {
    pub crop_padding: usize,
    pub hflip: bool,
}

impl Augment {
    pub const NONE: Augment = Augment {
        crop_padding: 0,
        hflip: false,
    };

    /// The seeds' augmentation for a dataset: random crop (pad 4) and flip for CIFAR-10, none else.
    pub fn default_for(name: DatasetName) -> Augment {
        match name {
            DatasetName::Cifar10 => Augment {
                crop_padding: 4,
                hflip: true,
            },
            _ => Augment::NONE,
        }
    }
}

/// An `--augment` value that names no augmentation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown augmentation `{0}`: use none, crop, flip or crop-flip")]
pub struct UnknownAugment(pub String);

impl std::str::FromStr for Augment {
    type Err = UnknownAugment;
    fn from_str(s: &str) -> Result<Self, UnknownAugment> {
        match s {
            "none" => Ok(Augment::NONE),
            "crop" => Ok(Augment {
                crop_padding: 4,
                hflip: false,
            }),
            "flip" => Ok(Augment {
                crop_padding: 0,
                hflip: true,
            }),
            "crop-flip" => Ok(Augment {
                crop_padding: 4,
                hflip: true,
            }),
            _ => Err(UnknownAugment(s.to_string())),
        }
    }
}

/// How samples of one dataset become input tensors for one network.
#[derive(Debug, Clone)]
pub enum InputPipeline {
    /// Direct-encoded images; `flatten` feeds an MLP with `[N]` input.
    Images {
        transform: ImageTransform,
        flatten: bool,
        sample_dims: Vec<usize>,
    },
    /// Event frames `[T, 2, H, W]`.
    Frames { spec: FrameSpec },
}

impl InputPipeline {
    /// Match `data` to `net`'s input spec by the one rule (`snnc_datasets::input_mapping`), or
    /// say why it does not fit.
    pub fn new(
        net: &Network,
        data: &Dataset,
        augment: Augment,
        split: FrameSplit,
    ) -> Result<Self, InputMismatch> {
        let input = NetworkInput {
            shape: &net.desc.input.shape,
            encoding: net.desc.input.encoding.into(),
            timesteps: net.desc.timesteps,
            num_classes: net.desc.num_classes,
        };
        Ok(match input_mapping(data, &input, split)? {
            InputMapping::Images { transform, flatten } => InputPipeline::Images {
                transform: ImageTransform {
                    crop_padding: augment.crop_padding,
                    hflip: augment.hflip,
                    ..transform
                },
                flatten,
                sample_dims: input.shape.to_vec(),
            },
            InputMapping::Frames(spec) => InputPipeline::Frames { spec },
        })
    }

    /// The transform fitting samples to the input (zero-padding, centre-cropping), if any.
    pub fn transform_note(&self) -> Option<String> {
        match self {
            InputPipeline::Images { transform, .. } => InputMapping::Images {
                transform: transform.clone(),
                flatten: false,
            }
            .transform_note(),
            InputPipeline::Frames { spec } => InputMapping::Frames(*spec).transform_note(),
        }
    }

    /// A batch tensor (`[B, ...]` or `[B, T, ...]`) on `device` and its labels. `rng` turns
    /// augmentation on.
    pub fn batch(
        &self,
        data: &Dataset,
        indices: &[usize],
        rng: Option<&mut Rng>,
        device: &Device,
    ) -> CResult<(Tensor, Vec<u8>)> {
        let b = indices.len();
        match (self, data) {
            (
                InputPipeline::Images {
                    transform,
                    sample_dims,
                    ..
                },
                Dataset::Images(set),
            ) => {
                let (x, y) = images_batch(set, indices, transform, rng);
                let mut dims = vec![b];
                dims.extend_from_slice(sample_dims);
                Ok((Tensor::from_vec(x, dims, device)?, y))
            }
            (InputPipeline::Frames { spec }, Dataset::Events(set)) => {
                let (x, y) = frames_batch(set, indices, spec);
                let mut dims = vec![b];
                dims.extend_from_slice(&spec.output_shape(set.width, set.height));
                Ok((Tensor::from_vec(x, dims, device)?, y))
            }
            _ => candle_core::bail!("input pipeline and dataset kinds differ"),
        }
    }
}
