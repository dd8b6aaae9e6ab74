//! Runtime choice of the instruction set for the CPU backend's kernels.
//!
//! Every kernel is written once, as plain scalar Rust over `u32` / `u64`
//! lanes (`#[inline(always)]`), and [`multiversion!`] compiles it three
//! times: as is (baseline x86-64, or any other target), with AVX2, and with
//! AVX-512. LLVM auto-vectorises the AVX copies; all three compute the same
//! exact integers, so the choice never changes a result bit (the tests run
//! every kernel at [`Isa::Scalar`] and at [`Isa::detect`] and compare).
//!
//! This is the only module with `unsafe`: calling a `#[target_feature]`
//! function is unsafe because the CPU might lack the feature, and an
//! [`Isa`] other than `Scalar` can only be obtained from [`Isa::detect`],
//! which checks the feature at run time.

/// Instruction set a kernel runs with. Only [`Isa::detect`] yields a
/// vector variant, so holding one proves the CPU supports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Isa(Level);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    /// Baseline code, on every CPU (the reference the vector paths are
    /// tested against).
    pub const SCALAR: Isa = Isa(Level::Scalar);

    /// The widest vector extension this CPU has (AVX-512, AVX2, or none).
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("bmi2")
            {
                return Isa(Level::Avx512);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("bmi2")
            {
                return Isa(Level::Avx2);
            }
        }
        Isa::SCALAR
    }

    /// Every instruction set this CPU supports, baseline first (the tests
    /// run each kernel with all of them).
    pub fn all_supported() -> Vec<Isa> {
        let mut all = vec![Isa::SCALAR];
        #[cfg(target_arch = "x86_64")]
        {
            let best = Isa::detect();
            if best != Isa::SCALAR {
                all.push(Isa(Level::Avx2));
            }
            if best == Isa(Level::Avx512) {
                all.push(best);
            }
        }
        all
    }

    /// Short name for reports (`"scalar"`, `"avx2"`, `"avx512"`).
    pub fn name(self) -> &'static str {
        match self.0 {
            Level::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => "avx512",
        }
    }
}

/// `multiversion! { pub(crate) fn name(args) -> ret => kernel; }` defines
/// `name(isa, args)` running `kernel(args)` compiled for `isa`;
/// `multiversion! { fn name(args) -> ret { body } }` does the same with the
/// kernel written in place (for the one-line limb loops).
macro_rules! multiversion {
    () => {};
    ($vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? => $kernel:path; $($rest:tt)*) => {
        $crate::simd::multiversion!(@emit $vis $name ($($arg: $ty),*) ($(-> $ret)?) {} $kernel);
        $crate::simd::multiversion! { $($rest)* }
    };
    ($vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block $($rest:tt)*) => {
        $crate::simd::multiversion!(@emit $vis $name ($($arg: $ty),*) ($(-> $ret)?) {
            #[inline(always)]
            fn kernel($($arg: $ty),*) $(-> $ret)? $body
        } kernel);
        $crate::simd::multiversion! { $($rest)* }
    };
    (@emit $vis:vis $name:ident ($($arg:ident : $ty:ty),*) ($($ret:tt)*) { $($item:item)* } $kernel:path) => {
        #[inline]
        #[allow(unsafe_code)]
        $vis fn $name(isa: $crate::simd::Isa, $($arg: $ty),*) $($ret)* {
            $($item)*
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,bmi2")]
                fn avx2($($arg: $ty),*) $($ret)* {
                    $kernel($($arg),*)
                }
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,bmi2")]
                fn avx512($($arg: $ty),*) $($ret)* {
                    $kernel($($arg),*)
                }
                if isa == $crate::simd::Isa::AVX512 {
                    // SAFETY: an AVX-512 `Isa` only comes from
                    // `Isa::detect`, which found the features.
                    return unsafe { avx512($($arg),*) };
                }
                if isa == $crate::simd::Isa::AVX2 {
                    // SAFETY: as above, for AVX2.
                    return unsafe { avx2($($arg),*) };
                }
            }
            let _ = isa;
            $kernel($($arg),*)
        }
    };
}
pub(crate) use multiversion;

// For `multiversion!`'s comparisons only: constructing a kernel call from
// these without `Isa::detect` would break the safety argument above.
#[cfg(target_arch = "x86_64")]
impl Isa {
    pub(crate) const AVX2: Isa = Isa(Level::Avx2);
    pub(crate) const AVX512: Isa = Isa(Level::Avx512);
}
