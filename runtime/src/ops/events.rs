//! The events of one population at one step, as the scatter kernels read them: spikes,
//! sparse graded values or a dense graded population.

/// The events of one population at one step.
pub trait Events {
    /// Every value is 1: kernels add weights without multiplying (`w * 1.0 == w`, so the sums
    /// are bit for bit the same).
    const BINARY: bool = false;
    /// Number of events.
    fn count(&self) -> usize;
    /// `(storage index, value)` of every event. An iterator rather than a callback, so the
    /// kernels' loop bodies are not closures: those would not inherit the AVX2 build.
    fn iter(&self) -> impl Iterator<Item = (usize, f32)> + '_;
    /// All of the source's values, when it is dense (zeros included): element-wise kernels then
    /// run one straight vector loop, since adding `f * 0` changes nothing.
    #[inline(always)]
    fn dense_values(&self) -> Option<&[f32]> {
        None
    }
}

/// Binary events: active storage indices, value 1.
pub struct Spikes<'a>(pub &'a [u32]);

/// Sparse graded events: active storage indices and the population's values (read at those).
pub struct Graded<'a> {
    pub idx: &'a [u32],
    pub val: &'a [f32],
}

/// Dense graded events: every non-zero value of the population. Used when at least half the
/// values are non-zero, where an index list would cost more memory than it saves in work.
pub struct DenseGraded<'a> {
    pub val: &'a [f32],
    pub count: usize,
}

impl Events for Spikes<'_> {
    const BINARY: bool = true;
    #[inline(always)]
    fn count(&self) -> usize {
        self.0.len()
    }
    #[inline(always)]
    fn iter(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.0.iter().map(|&i| (i as usize, 1.0))
    }
}

impl Events for Graded<'_> {
    #[inline(always)]
    fn count(&self) -> usize {
        self.idx.len()
    }
    #[inline(always)]
    fn iter(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.idx.iter().map(|&i| (i as usize, self.val[i as usize]))
    }
}

impl Events for DenseGraded<'_> {
    #[inline(always)]
    fn count(&self) -> usize {
        self.count
    }
    #[inline(always)]
    fn iter(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.val
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0.0)
            .map(|(i, v)| (i, *v))
    }
    #[inline(always)]
    fn dense_values(&self) -> Option<&[f32]> {
        Some(self.val)
    }
}
