//! Which vector width the kernels are built for, detected once from the CPU.

/// Which build of the kernels runs: the widest vectors the CPU has. Results are identical in
/// every build (element-wise operations in the same order, no FMA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Simd {
    None,
    Avx2,
    Avx512,
}

impl Simd {
    pub fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512dq")
            {
                return Simd::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Simd::Avx2;
            }
        }
        Simd::None
    }

    /// Every level this CPU can run, narrowest first (for tests).
    pub fn available() -> Vec<Simd> {
        let best = Simd::detect();
        [Simd::None, Simd::Avx2, Simd::Avx512]
            .into_iter()
            .filter(|s| *s as u8 <= best as u8)
            .collect()
    }
}
