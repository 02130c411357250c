//! Per-channel normalisation constants for each dataset, fixed in the source.

use crate::name::DatasetName;

/// Per-channel `(x - mean) / std`, applied to pixels already scaled to `[0, 1]`.
///
/// A single entry applies to every channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalization {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Normalization {
    /// The constants for `name`, or `None` for N-MNIST (its frames are raw event counts).
    ///
    /// - MNIST: 0.1307 / 0.3081 and Fashion-MNIST: 0.2860 / 0.3530, the customary values
    ///   (train-set statistics).
    /// - CIFAR-10: mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616), the per-channel
    ///   train-set statistics.
    /// - digits: 0.3053 / 0.3760, the mean and (population) standard deviation of pixel / 16
    ///   over all 1797 samples, computed once from `digits.csv.gz` and written here.
    pub fn for_dataset(name: DatasetName) -> Option<Self> {
        let (mean, std): (&[f32], &[f32]) = match name {
            DatasetName::Mnist => (&[0.1307], &[0.3081]),
            DatasetName::FashionMnist => (&[0.2860], &[0.3530]),
            DatasetName::Cifar10 => (&[0.4914, 0.4822, 0.4465], &[0.2470, 0.2435, 0.2616]),
            DatasetName::Digits => (&[0.3053], &[0.3760]),
            DatasetName::Nmnist => return None,
        };
        Some(Normalization {
            mean: mean.to_vec(),
            std: std.to_vec(),
        })
    }

    /// `(mean, std)` of channel `c`; with one entry it serves every channel, with none the
    /// identity `(0, 1)`.
    pub fn channel(&self, c: usize) -> (f32, f32) {
        let mean = self
            .mean
            .get(c)
            .or(self.mean.first())
            .copied()
            .unwrap_or(0.0);
        let std = self.std.get(c).or(self.std.first()).copied().unwrap_or(1.0);
        (mean, std)
    }

    /// Normalises one value of channel `c` already in `[0, 1]`.
    pub fn apply(&self, c: usize, value: f32) -> f32 {
        let (mean, std) = self.channel(c);
        (value - mean) / std
    }
}
