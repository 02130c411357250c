//! The in-memory sample containers every reader fills: image sets, event sets and their union.

use crate::name::{DatasetName, Split};

/// A labelled set of images, stored as raw bytes in the file's value range.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    pub name: DatasetName,
    pub split: Split,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// `n * channels * height * width` bytes; each sample is CHW (planes, then rows).
    pub pixels: Vec<u8>,
    /// One class index per sample, each `< num_classes`.
    pub labels: Vec<u8>,
    pub num_classes: usize,
    /// The value that means "full intensity": 255, or 16 for digits.
    pub max_value: f32,
}

impl ImageSet {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the set holds no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `[channels, height, width]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }

    /// Bytes per sample: `channels * height * width`.
    pub fn sample_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The CHW bytes of sample `index`, or `None` past the end.
    pub fn sample(&self, index: usize) -> Option<&[u8]> {
        let n = self.sample_len();
        let start = index.checked_mul(n)?;
        self.pixels.get(start..start.checked_add(n)?)
    }
}

/// One event-camera event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Event {
    pub x: u8,
    pub y: u8,
    /// True for an ON (brightness increase) event.
    pub on: bool,
    /// Timestamp in microseconds from the start of the recording.
    pub t_us: u32,
}

/// A labelled set of event streams from a `width` x `height` sensor.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSet {
    pub split: Split,
    /// Sensor width (34 for N-MNIST).
    pub width: usize,
    /// Sensor height (34 for N-MNIST).
    pub height: usize,
    /// One event stream per sample, in file order.
    pub samples: Vec<Vec<Event>>,
    /// One class index per sample.
    pub labels: Vec<u8>,
    pub num_classes: usize,
}

impl EventSet {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the set holds no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Either kind of dataset, as returned by [`load`](crate::load).
#[derive(Debug, Clone, PartialEq)]
pub enum Dataset {
    Images(ImageSet),
    Events(EventSet),
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels().len()
    }

    /// True when the set holds no samples.
    pub fn is_empty(&self) -> bool {
        self.labels().is_empty()
    }

    /// One class index per sample.
    pub fn labels(&self) -> &[u8] {
        match self {
            Dataset::Images(s) => &s.labels,
            Dataset::Events(s) => &s.labels,
        }
    }

    pub fn num_classes(&self) -> usize {
        match self {
            Dataset::Images(s) => s.num_classes,
            Dataset::Events(s) => s.num_classes,
        }
    }

    pub fn name(&self) -> DatasetName {
        match self {
            Dataset::Images(s) => s.name,
            Dataset::Events(_) => DatasetName::Nmnist,
        }
    }

    pub fn split(&self) -> Split {
        match self {
            Dataset::Images(s) => s.split,
            Dataset::Events(s) => s.split,
        }
    }

    /// The image set, if this is one.
    pub fn as_images(&self) -> Option<&ImageSet> {
        match self {
            Dataset::Images(s) => Some(s),
            Dataset::Events(_) => None,
        }
    }

    /// The event set, if this is one.
    pub fn as_events(&self) -> Option<&EventSet> {
        match self {
            Dataset::Events(s) => Some(s),
            Dataset::Images(_) => None,
        }
    }

    /// Unwraps an image set, giving the event set back otherwise.
    pub fn into_images(self) -> Result<ImageSet, Self> {
        match self {
            Dataset::Images(s) => Ok(s),
            other => Err(other),
        }
    }

    /// Unwraps an event set, giving the image set back otherwise.
    pub fn into_events(self) -> Result<EventSet, Self> {
        match self {
            Dataset::Events(s) => Ok(s),
            other => Err(other),
        }
    }
}
