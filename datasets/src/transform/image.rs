//! Image samples to f32 CHW: scale, normalise, place on a padded canvas, random crop and flip.

use crate::set::ImageSet;
use crate::transform::{Normalization, Rng};

/// How one image becomes network input. The steps, in order:
///
/// 1. scale: `v = pixel / max_value` (so `[0, 1]`);
/// 2. normalise: `v = (v - mean[c]) / std[c]` when `normalize` is set;
/// 3. `pad_to`: centre the image on an `S x S` canvas (28 -> 32 adds 2 on each side; an odd
///    difference puts the extra row/column at the bottom/right; `S` smaller than the image crops
///    its centre). The added pixels are **0.0 in the output**, i.e. zero in the normalised
///    domain, as if the network zero-padded its input;
/// 4. random crop (only with an rng and `crop_padding = p > 0`), as torchvision's
///    `RandomCrop(S, padding=p)` before `Normalize`: the canvas is surrounded by `p` pixels of a
///    black image, i.e. value `(0 - mean[c]) / std[c]` after normalisation, and an `S x S` window
///    is taken at a uniform offset `0..=2p` in each direction;
/// 5. horizontal flip with probability 0.5 (only with an rng and `hflip`).
///
/// Random draws, in order: the row offset and the column offset (`Rng::below(2p + 1)` each, only
/// when `p > 0`), then one `Rng::next_f32() < 0.5` for the flip (only when `hflip`). With no rng
/// the output is the un-augmented image (evaluation).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImageTransform {
    /// Side of the square output canvas; `None` keeps the image's own size.
    pub pad_to: Option<usize>,
    /// Zero padding of the random crop (torchvision `padding`), 0 for no crop.
    pub crop_padding: usize,
    /// Random horizontal flip.
    pub hflip: bool,
    /// Per-channel normalisation, or none (values stay in `[0, 1]`).
    pub normalize: Option<Normalization>,
}

impl ImageTransform {
    /// No augmentation, normalised with the dataset's constants.
    pub fn normalized(name: crate::DatasetName) -> Self {
        ImageTransform {
            normalize: Normalization::for_dataset(name),
            ..ImageTransform::default()
        }
    }

    /// `[C, H', W']` of one output sample, `H' = W' = pad_to` when set.
    pub fn output_shape(&self, set: &ImageSet) -> [usize; 3] {
        match self.pad_to {
            Some(s) => [set.channels, s, s],
            None => [set.channels, set.height, set.width],
        }
    }

    /// Number of f32 values per output sample.
    pub fn output_len(&self, set: &ImageSet) -> usize {
        self.output_shape(set).iter().product()
    }

    /// Writes sample `index` of `set` into `out` as f32 CHW.
    ///
    /// # Panics
    /// When `index >= set.len()` or `out.len()` differs from [`output_len`](Self::output_len);
    /// both are caller bugs, not data faults.
    pub fn write_sample(
        &self,
        set: &ImageSet,
        index: usize,
        rng: Option<&mut Rng>,
        out: &mut [f32],
    ) {
        let [channels, oh, ow] = self.output_shape(set);
        assert_eq!(
            out.len(),
            channels * oh * ow,
            "output buffer must hold C*H'*W' = {channels}x{oh}x{ow} values"
        );
        let src = set.sample(index).unwrap_or_else(|| {
            panic!(
                "sample index {index} out of range for a set of {}",
                set.len()
            )
        });
        let (dy, dx, flip) = self.draw(rng);
        let (h, w) = (set.height as isize, set.width as isize);
        let top = (oh as isize - h).div_euclid(2);
        let left = (ow as isize - w).div_euclid(2);
        let (oh_i, ow_i) = (oh as isize, ow as isize);
        for c in 0..channels {
            let (mean, std) = self.normalize.as_ref().map_or((0.0, 1.0), |n| n.channel(c));
            let scale = 1.0 / (set.max_value * std);
            let offset = mean / std;
            let crop_fill = -offset;
            let plane = &src[c * set.height * set.width..(c + 1) * set.height * set.width];
            let out_plane = &mut out[c * oh * ow..(c + 1) * oh * ow];
            for y in 0..oh_i {
                let cy = y + dy;
                for x in 0..ow_i {
                    let xf = if flip { ow_i - 1 - x } else { x };
                    let cx = xf + dx;
                    let v = if cy < 0 || cy >= oh_i || cx < 0 || cx >= ow_i {
                        crop_fill
                    } else {
                        let (sy, sx) = (cy - top, cx - left);
                        if sy < 0 || sy >= h || sx < 0 || sx >= w {
                            0.0
                        } else {
                            f32::from(plane[(sy * w + sx) as usize]) * scale - offset
                        }
                    };
                    out_plane[(y * ow_i + x) as usize] = v;
                }
            }
        }
    }

    /// The crop offsets (relative to the centred window) and the flip for one sample.
    fn draw(&self, rng: Option<&mut Rng>) -> (isize, isize, bool) {
        let Some(rng) = rng else { return (0, 0, false) };
        let p = self.crop_padding;
        let (dy, dx) = if p > 0 {
            let dy = rng.below(2 * p + 1) as isize - p as isize;
            let dx = rng.below(2 * p + 1) as isize - p as isize;
            (dy, dx)
        } else {
            (0, 0)
        };
        let flip = self.hflip && rng.next_f32() < 0.5;
        (dy, dx, flip)
    }
}
