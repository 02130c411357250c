//! Sample transforms shared by training and the runtime: seeded shuffling, normalisation,
//! image augmentation and event-to-frame binning, plus batch assembly.

mod batch;
mod frames;
mod image;
mod norm;
mod rng;

pub use batch::{frames_batch, images_batch};
pub use frames::{FrameSpec, FrameSplit, events_to_frames};
pub use image::ImageTransform;
pub use norm::Normalization;
pub use rng::{Rng, SplitMix64, epoch_order};
