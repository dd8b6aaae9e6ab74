//! Run-time choice of the instruction set for vectorised kernels.
//!
//! A kernel is written once, as plain scalar Rust over `u32` / `u64`
//! lanes (`#[inline(always)]`), and [`multiversion!`](crate::multiversion)
//! compiles it three times: as is (baseline x86-64, or any other target),
//! with AVX2, and with AVX-512. LLVM auto-vectorises the AVX copies; all
//! three compute the same exact integers, so the choice never changes a
//! result bit (the tests run every kernel at [`Isa::SCALAR`] and at
//! [`Isa::detect`] and compare).
//!
//! This module's macro holds the crate's only `unsafe`: calling a
//! `#[target_feature]` function is unsafe because the CPU might lack the
//! feature, and an [`Isa`] other than `SCALAR` can only be obtained from
//! [`Isa::detect`], which checks the feature (at run time with the `std`
//! feature, else from the compile-time target features).

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
    /// Without `std` only the extensions the crate was compiled for count.
    pub fn detect() -> Isa {
        #[cfg(all(target_arch = "x86_64", any(feature = "std", test)))]
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
        #[cfg(all(target_arch = "x86_64", not(any(feature = "std", test))))]
        {
            if cfg!(all(
                target_feature = "avx512f",
                target_feature = "avx512vl",
                target_feature = "avx512bw",
                target_feature = "avx512dq",
                target_feature = "avx2",
                target_feature = "bmi2"
            )) {
                return Isa(Level::Avx512);
            }
            if cfg!(all(target_feature = "avx2", target_feature = "bmi2")) {
                return Isa(Level::Avx2);
            }
        }
        Isa::SCALAR
    }

    /// Every instruction set this CPU supports, baseline first (the tests
    /// run each kernel with all of them).
    #[cfg(feature = "alloc")]
    pub fn all_supported() -> alloc::vec::Vec<Isa> {
        let mut all = alloc::vec![Isa::SCALAR];
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

    /// Whether this is the AVX-512 level (read by
    /// [`multiversion!`](crate::multiversion)'s dispatch).
    pub fn is_avx512(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            self.0 == Level::Avx512
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Whether this is the AVX2 level (read by
    /// [`multiversion!`](crate::multiversion)'s dispatch).
    pub fn is_avx2(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            self.0 == Level::Avx2
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }
}

/// Compiles a kernel once per instruction set and dispatches on an
/// [`Isa`](crate::simd::Isa).
///
/// `multiversion! { pub(crate) fn name(args) -> ret => kernel; }` defines
/// `name(isa, args)` running `kernel(args)` compiled for `isa`;
/// `multiversion! { fn name(args) -> ret { body } }` does the same with the
/// kernel written in place (for one-line loops). The kernel should be
/// `#[inline(always)]` so that it is compiled inside each variant.
///
/// The expansion carries the one `#[allow(unsafe_code)]` of the crates that
/// use it: it calls the `#[target_feature]` variants only for an `Isa` of
/// that level, which only [`Isa::detect`](crate::simd::Isa::detect) hands
/// out after checking the CPU.
#[macro_export]
macro_rules! multiversion {
    () => {};
    ($vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? => $kernel:path; $($rest:tt)*) => {
        $crate::multiversion!(@emit $vis $name ($($arg: $ty),*) ($(-> $ret)?) {} $kernel);
        $crate::multiversion! { $($rest)* }
    };
    ($vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block $($rest:tt)*) => {
        $crate::multiversion!(@emit $vis $name ($($arg: $ty),*) ($(-> $ret)?) {
            #[inline(always)]
            fn kernel($($arg: $ty),*) $(-> $ret)? $body
        } kernel);
        $crate::multiversion! { $($rest)* }
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
                if isa.is_avx512() {
                    // SAFETY: an AVX-512 `Isa` only comes from
                    // `Isa::detect`, which found the features.
                    return unsafe { avx512($($arg),*) };
                }
                if isa.is_avx2() {
                    // SAFETY: as above, for AVX2.
                    return unsafe { avx2($($arg),*) };
                }
            }
            let _ = isa;
            $kernel($($arg),*)
        }
    };
}
