//! Fit a dataset to a network's input: padding, cropping, flattening, event frames, batching.

use candle_core::{Device, Result as CResult, Tensor};
use snnc_compiler::network::{Encoding, Network};
use snnc_datasets::transform::{
    FrameSpec, FrameSplit, ImageTransform, Normalization, Rng, frames_batch, images_batch,
};
use snnc_datasets::{Dataset, DatasetName};

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

impl std::str::FromStr for Augment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
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
            _ => Err(format!(
                "unknown augmentation `{s}`: use none, crop, flip or crop-flip"
            )),
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
    /// Match `data` to `net`'s input spec, or explain the mismatch.
    pub fn new(
        net: &Network,
        data: &Dataset,
        augment: Augment,
        split: FrameSplit,
    ) -> Result<Self, String> {
        let want = &net.desc.input.shape;
        match (data, net.desc.input.encoding) {
            (Dataset::Images(set), Encoding::Direct) => {
                let mut transform = ImageTransform {
                    pad_to: None,
                    crop_padding: augment.crop_padding,
                    hflip: augment.hflip,
                    normalize: Normalization::for_dataset(set.name),
                };
                let [c, h, w] = set.shape();
                match *want.as_slice() {
                    [n] if n == c * h * w => {
                        Ok(InputPipeline::Images { transform, flatten: true, sample_dims: want.clone() })
                    }
                    [wc, wh, ww] if wc == c && wh == ww && h == w => {
                        if wh != h {
                            transform.pad_to = Some(wh);
                        }
                        Ok(InputPipeline::Images { transform, flatten: false, sample_dims: want.clone() })
                    }
                    _ => Err(format!(
                        "the network's input is {want:?} but {} samples are [{c}, {h}, {w}] \
                         (an MLP takes [{}], a conv net [{c}, S, S] with S >= {h} zero-padded)",
                        set.name,
                        c * h * w
                    )),
                }
            }
            (Dataset::Events(set), Encoding::EventFrames) => match *want.as_slice() {
                [2, wh, ww] if wh == ww && wh <= set.height.min(set.width) => {
                    let crop_to = if wh == set.height && ww == set.width { None } else { Some(wh) };
                    Ok(InputPipeline::Frames {
                        spec: FrameSpec { timesteps: net.desc.timesteps, split, crop_to },
                    })
                }
                _ => Err(format!(
                    "event frames are [2, {}, {}] (centre-cropped to a smaller square if asked), \
                     but the network's input is {want:?}",
                    set.height, set.width
                )),
            },
            (Dataset::Images(_), Encoding::EventFrames) => Err(
                "the network expects event frames (input.encoding = event_frames) but the dataset holds images".into(),
            ),
            (Dataset::Events(_), Encoding::Direct) => Err(
                "the dataset holds events; its network needs input.encoding = event_frames".into(),
            ),
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
