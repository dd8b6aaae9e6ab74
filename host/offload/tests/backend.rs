//! Every `Backend` method, CPU against device, word for word on random
//! data: at N = 2^12 (one block), at N = 2^14 (four blocks, the split
//! NTT in one pass) and at N = 2^14 with only six buffers (the split NTT
//! streamed in passes); five primes on four slots, so primes are evicted
//! and reloaded.

use ola_arith::Modulus;
use ola_arith::prime::ntt_primes;
use ola_ckks::{Backend, CpuBackend};
use ola_device::DeviceConfig;
use ola_offload::{DeviceBackend, Options, sim_channel};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

fn primes(log_n: u32, count: usize) -> Vec<Modulus> {
    ntt_primes(30, log_n)
        .take(count)
        .map(|q| Modulus::new(q).unwrap())
        .collect()
}

fn limb(rng: &mut ChaCha20Rng, bound: u32, n: usize) -> Vec<u32> {
    (0..n).map(|_| rng.random_range(0..bound)).collect()
}

/// Runs every method on both backends and compares.
fn all_methods_agree(log_n: u32, options: Options) {
    let n = 1usize << log_n;
    let moduli = primes(log_n, 5);
    let cpu = CpuBackend::new(n, &moduli);
    let (device, _board) = sim_channel(DeviceConfig::default()).unwrap();
    let dev = DeviceBackend::with_options(device, n, &moduli, options).unwrap();
    assert!(!dev.lazy_accumulation());
    let mut rng = ChaCha20Rng::seed_from_u64(log_n as u64);
    // Primes visited cyclically: with 4 slots, LRU reloads on every call.
    for m in [0, 4, 1, 2, 3] {
        let q = moduli[m].value();
        let (a, b, c) = (
            limb(&mut rng, q, n),
            limb(&mut rng, q, n),
            limb(&mut rng, q, n),
        );
        let k = rng.random_range(0..q);
        let check = |what: &str, x: &[u32], y: &[u32]| {
            assert!(x == y, "{what} differs at N = {n}, prime {m}");
        };
        // Transforms.
        let (mut x, mut y) = (a.clone(), a.clone());
        cpu.ntt_fwd(m, &mut x);
        dev.ntt_fwd(m, &mut y);
        check("ntt_fwd", &x, &y);
        let (mut x2, mut y2) = (b.clone(), b.clone());
        cpu.ntt_inv(m, &mut x2);
        dev.ntt_inv(m, &mut y2);
        check("ntt_inv", &x2, &y2);
        dev.ntt_inv(m, &mut y);
        check("ntt_inv ∘ ntt_fwd", &y, &a);
        // Binary operations.
        type Bin = fn(&dyn Backend, usize, &[u32], &[u32], &mut [u32]);
        let bins: [(&str, Bin); 3] = [
            ("add", |be, m, a, b, o| be.add(m, a, b, o)),
            ("sub", |be, m, a, b, o| be.sub(m, a, b, o)),
            ("mul", |be, m, a, b, o| be.mul(m, a, b, o)),
        ];
        for (name, f) in bins {
            let (mut x, mut y) = (vec![0; n], vec![0; n]);
            f(&cpu, m, &a, &b, &mut x);
            f(&dev, m, &a, &b, &mut y);
            check(name, &x, &y);
        }
        type Assign = fn(&dyn Backend, usize, &mut [u32], &[u32], u32);
        let assigns: [(&str, Assign); 8] = [
            ("add_assign", |be, m, a, b, _| be.add_assign(m, a, b)),
            ("sub_assign", |be, m, a, b, _| be.sub_assign(m, a, b)),
            ("mul_assign", |be, m, a, b, _| be.mul_assign(m, a, b)),
            ("neg_assign", |be, m, a, _, _| be.neg_assign(m, a)),
            ("mac", |be, m, acc, b, _| {
                let a = b.iter().map(|&v| v ^ 1).collect::<Vec<_>>();
                be.mac(m, &a, b, acc)
            }),
            ("mul_const_assign", |be, m, a, _, k| {
                be.mul_const_assign(m, a, k)
            }),
            ("mac_const", |be, m, acc, b, k| be.mac_const(m, b, k, acc)),
            ("add_const_assign", |be, m, a, _, k| {
                be.add_const_assign(m, a, k)
            }),
        ];
        for (name, f) in assigns {
            let (mut x, mut y) = (a.clone(), a.clone());
            f(&cpu, m, &mut x, &b, k);
            f(&dev, m, &mut y, &b, k);
            check(name, &x, &y);
        }
        let (mut x, mut y) = (a.clone(), a.clone());
        cpu.sub_mul_const_assign(m, &mut x, &b, k);
        dev.sub_mul_const_assign(m, &mut y, &b, k);
        check("sub_mul_const_assign", &x, &y);
        // Two-output forms of the key-switching inner product.
        let (mut x0, mut x1, mut y0, mut y1) = (c.clone(), b.clone(), c.clone(), b.clone());
        cpu.mac2(m, &a, &b, &c, &mut x0, &mut x1);
        dev.mac2(m, &a, &b, &c, &mut y0, &mut y1);
        check("mac2 (0)", &x0, &y0);
        check("mac2 (1)", &x1, &y1);
        cpu.mul2(m, &c, &a, &b, &mut x0, &mut x1);
        dev.mul2(m, &c, &a, &b, &mut y0, &mut y1);
        check("mul2 (0)", &x0, &y0);
        check("mul2 (1)", &x1, &y1);
        // Unreduced inputs below 2^30 (residues of other primes), with the
        // extreme word included.
        let mut wide = limb(&mut rng, 1 << 30, n);
        wide[0] = (1 << 30) - 1;
        let (mut x, mut y) = (vec![0; n], vec![0; n]);
        cpu.reduce(m, &wide, &mut x);
        dev.reduce(m, &wide, &mut y);
        check("reduce", &x, &y);
        // More inputs than the buffers hold at once: partial sums.
        let inputs: Vec<Vec<u32>> = (0..13).map(|_| limb(&mut rng, 1 << 30, n)).collect();
        let refs: Vec<&[u32]> = inputs.iter().map(|v| v.as_slice()).collect();
        let consts: Vec<u32> = (0..13).map(|_| rng.random_range(0..q)).collect();
        cpu.lincomb(m, &refs, &consts, &mut x);
        dev.lincomb(m, &refs, &consts, &mut y);
        check("lincomb", &x, &y);
        // Six targets on four slots (two groups, a prime repeated), and
        // thirteen inputs (too many to keep beside the accumulators: one
        // target at a time).
        for (targets, k) in [(6, 4), (2, 13)] {
            let ms: Vec<usize> = (0..targets).map(|j| (m + j) % 5).collect();
            let consts2: Vec<Vec<u32>> = ms
                .iter()
                .map(|&t| {
                    (0..k)
                        .map(|_| rng.random_range(0..moduli[t].value()))
                        .collect()
                })
                .collect();
            let crefs: Vec<&[u32]> = consts2.iter().map(|c| c.as_slice()).collect();
            let (mut xm, mut ym) = (vec![0; targets * n], vec![0; targets * n]);
            cpu.lincomb_multi(&ms, &refs[..k], &crefs, &mut xm);
            dev.lincomb_multi(&ms, &refs[..k], &crefs, &mut ym);
            check("lincomb_multi", &xm, &ym);
        }
        // Host-side methods.
        let weights: Vec<u64> = (0..4).map(|_| rng.random_range(0..1u64 << 46)).collect();
        cpu.round_fixed(&refs[..4], &weights, &mut x);
        dev.round_fixed(&refs[..4], &weights, &mut y);
        check("round_fixed", &x, &y);
        let mut perm: Vec<u32> = (0..n as u32).collect();
        perm.reverse();
        cpu.permute(&a, &perm, &mut x);
        dev.permute(&a, &perm, &mut y);
        check("permute", &x, &y);
        let (mut la, mut lb) = (vec![7u64; n], vec![7u64; n]);
        cpu.mac_lazy2(&a, &b, &c, &mut la, &mut vec![0; n]);
        dev.mac_lazy2(&a, &b, &c, &mut lb, &mut vec![0; n]);
        assert_eq!(la, lb, "mac_lazy2");
        cpu.fold_lazy(m, &mut la);
        dev.fold_lazy(m, &mut lb);
        assert_eq!(la, lb, "fold_lazy");
        cpu.reduce_lazy(m, &la, &mut x);
        dev.reduce_lazy(m, &lb, &mut y);
        check("reduce_lazy", &x, &y);
    }
    dev.check().expect("no device error");
    let costs = dev.costs();
    assert!(costs.compute_cycles > 0 && costs.movement_cycles() > costs.compute_cycles);
    assert!(
        costs.modulus_loads > 5,
        "cyclic use of 5 primes on 4 slots reloads"
    );
    assert!(costs.host_calls > 0 && costs.ntts == 15);
}

#[test]
fn every_method_matches_cpu_at_n_4096() {
    all_methods_agree(12, Options::default());
}

#[test]
fn every_method_matches_cpu_at_n_16384() {
    all_methods_agree(14, Options::default());
}

#[test]
fn split_ntt_streams_when_buffers_are_short() {
    // Six buffers: groups of two blocks, so the four-block NTT takes two
    // passes each way.
    let log_n = 14;
    let n = 1usize << log_n;
    let moduli = primes(log_n, 2);
    let cpu = CpuBackend::new(n, &moduli);
    let (device, _board) = sim_channel(DeviceConfig::default()).unwrap();
    let options = Options {
        max_buffers: Some(6),
        max_slots: Some(1),
    };
    let dev = DeviceBackend::with_options(device, n, &moduli, options).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    for m in [0, 1, 0] {
        let a = limb(&mut rng, moduli[m].value(), n);
        let (mut x, mut y) = (a.clone(), a.clone());
        cpu.ntt_fwd(m, &mut x);
        dev.ntt_fwd(m, &mut y);
        assert_eq!(x, y, "forward, prime {m}");
        cpu.ntt_inv(m, &mut x);
        dev.ntt_inv(m, &mut y);
        assert_eq!(y, a, "inverse, prime {m}");
    }
    dev.check().unwrap();
    assert_eq!(
        dev.costs().modulus_loads,
        3,
        "one slot: every change of prime reloads"
    );
}

#[test]
fn refuses_primes_the_device_cannot_hold() {
    let (device, _board) = sim_channel(DeviceConfig::default()).unwrap();
    let small = ntt_primes(25, 12).next().unwrap();
    let err = DeviceBackend::new(device, 1 << 12, &[Modulus::new(small).unwrap()]).unwrap_err();
    assert!(err.to_string().contains("exactly 30"), "{err}");
}
