//! Priced evaluation: the device's costs of a CKKS computation without
//! running it on the device.
//!
//! A full device run moves every limb of every call over the host link;
//! on the simulated board that takes minutes per polynomial. But the cost
//! of one [`Backend`] call depends only on its *shape* — which method, how
//! many inputs (`lincomb`), how many targets (`lincomb_multi`) — and on
//! whether its prime is resident: the jobs, their cycles and the words
//! moved are fixed by the shape (the data change only the few bytes COBS
//! framing adds, see below). So:
//!
//! 1. the computation runs on the CPU through a [`CountingBackend`], which
//!    records every call (shape and primes) in order;
//! 2. a [`Pricer`] runs each distinct shape once on the device (random
//!    reduced data of that shape) and keeps its cost without modulus
//!    loads;
//! 3. the recorded sequence is replayed through the same least-recently
//!    used slot policy the [`DeviceBackend`] uses (one definition,
//!    `Slots`), which gives exactly the modulus loads a device run would
//!    make; each prime's load is priced once on the device;
//! 4. cost = Σ count × price + Σ loads × load price.
//!
//! **What is exact.** Compute cycles, jobs, device calls, NTTs and modulus
//! loads equal a device run's exactly. Data movement agrees within the
//! framing's data dependence: COBS adds one byte per run of 254 non-zero
//! bytes (at most `len/254 + 1`, ≈ 0.4 %), and the sequence numbers and
//! counters in the frames are varints that grow with the session; the
//! tests and `ola costs --verify-degree` measure the difference.
//!
//! The replay starts from empty slots, as a freshly opened backend does;
//! [`Pricer::replay`] advances it over calls whose cost is not wanted
//! (they still change which primes are resident).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use ola_arith::Modulus;
use ola_ckks::Backend;

use crate::{Costs, DeviceBackend, Error, Pick, Slots};

/// Which [`Backend`] method a call was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum Op {
    NttFwd,
    NttInv,
    Add,
    AddAssign,
    Sub,
    SubAssign,
    Neg,
    Mul,
    MulAssign,
    Mac,
    MulConst,
    MacConst,
    AddConst,
    SubMulConst,
    Reduce,
    Lincomb,
    LincombMulti,
    Mac2,
    Mul2,
    /// Served on the host by the device backend (`round_fixed`,
    /// `permute`, the lazy `u64` accumulations): no device cost.
    Host,
}

impl Op {
    /// Every op, in order.
    pub const ALL: [Op; 20] = [
        Op::NttFwd,
        Op::NttInv,
        Op::Add,
        Op::AddAssign,
        Op::Sub,
        Op::SubAssign,
        Op::Neg,
        Op::Mul,
        Op::MulAssign,
        Op::Mac,
        Op::MulConst,
        Op::MacConst,
        Op::AddConst,
        Op::SubMulConst,
        Op::Reduce,
        Op::Lincomb,
        Op::LincombMulti,
        Op::Mac2,
        Op::Mul2,
        Op::Host,
    ];

    /// Its name (as `Debug` prints it).
    pub fn name(self) -> String {
        format!("{self:?}")
    }

    /// The op named `name` ([`Op::name`]).
    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.name() == name)
    }
}

/// What determines a call's device cost (besides residency).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shape {
    /// The method.
    pub op: Op,
    /// Input limbs of `lincomb` / `lincomb_multi` (0 otherwise).
    pub inputs: u32,
    /// Target primes of `lincomb_multi` (1 otherwise).
    pub targets: u32,
}

/// One recorded call: its shape and the primes it used, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The shape.
    pub shape: Shape,
    /// Prime indices (one, or the targets of `lincomb_multi`; none for
    /// host calls).
    pub primes: Vec<usize>,
}

/// A [`Backend`] that runs every call on `inner` and records it (see the
/// module doc). It reports `lazy_accumulation() == false`, like
/// [`DeviceBackend`], so ola-ckks issues the same calls it would issue to
/// the device; and since every backend's results are bit-identical, the
/// recorded sequence is the device run's.
pub struct CountingBackend<B> {
    inner: B,
    calls: Mutex<Vec<Call>>,
}

impl<B: Backend> CountingBackend<B> {
    /// Wraps `inner`.
    pub fn new(inner: B) -> Self {
        CountingBackend {
            inner,
            calls: Mutex::new(Vec::new()),
        }
    }

    /// The calls recorded since the last `take`, in order.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Call>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, op: Op, primes: &[usize], inputs: usize) {
        self.lock().push(Call {
            shape: Shape {
                op,
                inputs: inputs as u32,
                targets: primes.len().max(1) as u32,
            },
            primes: primes.to_vec(),
        });
    }

    fn one(&self, op: Op, m: usize) {
        self.record(op, &[m], 0);
    }
}

impl<B: Backend> Backend for CountingBackend<B> {
    fn n(&self) -> usize {
        self.inner.n()
    }

    fn moduli(&self) -> &[Modulus] {
        self.inner.moduli()
    }

    fn lazy_accumulation(&self) -> bool {
        false
    }

    fn ntt_fwd(&self, m: usize, a: &mut [u32]) {
        self.one(Op::NttFwd, m);
        self.inner.ntt_fwd(m, a);
    }

    fn ntt_inv(&self, m: usize, a: &mut [u32]) {
        self.one(Op::NttInv, m);
        self.inner.ntt_inv(m, a);
    }

    fn add(&self, m: usize, a: &[u32], b: &[u32], out: &mut [u32]) {
        self.one(Op::Add, m);
        self.inner.add(m, a, b, out);
    }

    fn add_assign(&self, m: usize, a: &mut [u32], b: &[u32]) {
        self.one(Op::AddAssign, m);
        self.inner.add_assign(m, a, b);
    }

    fn sub(&self, m: usize, a: &[u32], b: &[u32], out: &mut [u32]) {
        self.one(Op::Sub, m);
        self.inner.sub(m, a, b, out);
    }

    fn sub_assign(&self, m: usize, a: &mut [u32], b: &[u32]) {
        self.one(Op::SubAssign, m);
        self.inner.sub_assign(m, a, b);
    }

    fn neg_assign(&self, m: usize, a: &mut [u32]) {
        self.one(Op::Neg, m);
        self.inner.neg_assign(m, a);
    }

    fn mul(&self, m: usize, a: &[u32], b: &[u32], out: &mut [u32]) {
        self.one(Op::Mul, m);
        self.inner.mul(m, a, b, out);
    }

    fn mul_assign(&self, m: usize, a: &mut [u32], b: &[u32]) {
        self.one(Op::MulAssign, m);
        self.inner.mul_assign(m, a, b);
    }

    fn mac(&self, m: usize, a: &[u32], b: &[u32], acc: &mut [u32]) {
        self.one(Op::Mac, m);
        self.inner.mac(m, a, b, acc);
    }

    fn mul_const_assign(&self, m: usize, a: &mut [u32], c: u32) {
        self.one(Op::MulConst, m);
        self.inner.mul_const_assign(m, a, c);
    }

    fn mac_const(&self, m: usize, a: &[u32], c: u32, acc: &mut [u32]) {
        self.one(Op::MacConst, m);
        self.inner.mac_const(m, a, c, acc);
    }

    fn add_const_assign(&self, m: usize, a: &mut [u32], c: u32) {
        self.one(Op::AddConst, m);
        self.inner.add_const_assign(m, a, c);
    }

    fn sub_mul_const_assign(&self, m: usize, a: &mut [u32], b: &[u32], c: u32) {
        self.one(Op::SubMulConst, m);
        self.inner.sub_mul_const_assign(m, a, b, c);
    }

    fn reduce(&self, m: usize, a: &[u32], out: &mut [u32]) {
        self.one(Op::Reduce, m);
        self.inner.reduce(m, a, out);
    }

    fn lincomb(&self, m: usize, inputs: &[&[u32]], consts: &[u32], out: &mut [u32]) {
        self.record(Op::Lincomb, &[m], inputs.len());
        self.inner.lincomb(m, inputs, consts, out);
    }

    fn lincomb_multi(&self, ms: &[usize], inputs: &[&[u32]], consts: &[&[u32]], out: &mut [u32]) {
        self.record(Op::LincombMulti, ms, inputs.len());
        self.inner.lincomb_multi(ms, inputs, consts, out);
    }

    fn mac_lazy(&self, a: &[u32], b: &[u32], acc: &mut [u64]) {
        self.record(Op::Host, &[], 0);
        self.inner.mac_lazy(a, b, acc);
    }

    fn mac2(
        &self,
        m: usize,
        a: &[u32],
        b0: &[u32],
        b1: &[u32],
        acc0: &mut [u32],
        acc1: &mut [u32],
    ) {
        self.one(Op::Mac2, m);
        self.inner.mac2(m, a, b0, b1, acc0, acc1);
    }

    fn mul2(
        &self,
        m: usize,
        a: &[u32],
        b0: &[u32],
        b1: &[u32],
        out0: &mut [u32],
        out1: &mut [u32],
    ) {
        self.one(Op::Mul2, m);
        self.inner.mul2(m, a, b0, b1, out0, out1);
    }

    fn reduce_lazy(&self, m: usize, acc: &[u64], out: &mut [u32]) {
        self.record(Op::Host, &[], 0);
        self.inner.reduce_lazy(m, acc, out);
    }

    fn fold_lazy(&self, m: usize, acc: &mut [u64]) {
        self.record(Op::Host, &[], 0);
        self.inner.fold_lazy(m, acc);
    }

    fn round_fixed(&self, inputs: &[&[u32]], weights: &[u64], out: &mut [u32]) {
        self.record(Op::Host, &[], 0);
        self.inner.round_fixed(inputs, weights, out);
    }

    fn permute(&self, a: &[u32], perm: &[u32], out: &mut [u32]) {
        self.record(Op::Host, &[], 0);
        self.inner.permute(a, perm, out);
    }
}

/// `acc += k · c` for every counter.
fn add_scaled(acc: &mut Costs, c: &Costs, k: u64) {
    acc.device_calls += k * c.device_calls;
    acc.host_calls += k * c.host_calls;
    acc.ntts += k * c.ntts;
    acc.compute_cycles += k * c.compute_cycles;
    acc.jobs += k * c.jobs;
    acc.link_bytes += k * c.link_bytes;
    acc.spi_cycles += k * c.spi_cycles;
    acc.modulus_loads += k * c.modulus_loads;
    acc.load_link_bytes += k * c.load_link_bytes;
    acc.load_spi_cycles += k * c.load_spi_cycles;
}

/// Prices recorded calls on a [`DeviceBackend`] (see the module doc).
pub struct Pricer {
    device: Arc<DeviceBackend>,
    prices: BTreeMap<Shape, Costs>,
    loads: BTreeMap<usize, Costs>,
    slots: Slots,
    rng: u64,
}

impl Pricer {
    /// A pricer on `device`, with the replayed slots empty. Runs one
    /// unpriced call first, so the device session's one-off set-up (the
    /// restart baseline of [`ola_device::Device::run_verified`]) is in no
    /// price.
    pub fn new(device: Arc<DeviceBackend>) -> Result<Self, Error> {
        let n = device.n;
        let (a, b) = (vec![0u32; n], vec![1u32; n]);
        let mut out = vec![0u32; n];
        device.add(0, &a, &b, &mut out);
        device.check()?;
        let slots = Slots::new(device.lock().slots.len());
        Ok(Pricer {
            device,
            prices: BTreeMap::new(),
            loads: BTreeMap::new(),
            slots,
            rng: 0x9e37_79b9_7f4a_7c15,
        })
    }

    /// The shapes priced so far and their costs (without modulus loads).
    pub fn prices(&self) -> &BTreeMap<Shape, Costs> {
        &self.prices
    }

    /// The primes whose load was priced so far, and the load's cost.
    pub fn load_prices(&self) -> &BTreeMap<usize, Costs> {
        &self.loads
    }

    /// Uses `costs` as the price of `shape` (e.g. saved from an earlier
    /// pricing) instead of running it on the device.
    pub fn set_price(&mut self, shape: Shape, costs: Costs) {
        self.prices.insert(shape, costs);
    }

    /// Uses `costs` as the price of loading prime `m`.
    pub fn set_load_price(&mut self, m: usize, costs: Costs) {
        self.loads.insert(m, costs);
    }

    /// Prices `shape` on the device now (with prime `primes[0]`, or the
    /// targets `primes` of `lincomb_multi`), whatever is cached; the
    /// cache keeps the new price.
    pub fn reprice(&mut self, shape: Shape, primes: &[usize]) -> Result<Costs, Error> {
        self.prices.remove(&shape);
        self.shape_price(shape, primes)
    }

    /// The device costs of `calls`, as a device run from the replayed
    /// slot state would have them (see the module doc); advances that
    /// state. Prices new shapes and primes on the device.
    pub fn price(&mut self, calls: &[Call]) -> Result<Costs, Error> {
        let mut counts: BTreeMap<Shape, (u64, &[usize])> = BTreeMap::new();
        for c in calls {
            counts.entry(c.shape).or_insert((0, &c.primes)).0 += 1;
        }
        let mut total = Costs::default();
        for (shape, (count, primes)) in counts {
            let price = self.shape_price(shape, primes)?;
            add_scaled(&mut total, &price, count);
        }
        for m in self.replay(calls) {
            let price = self.load_price(m)?;
            add_scaled(&mut total, &price, 1);
        }
        Ok(total)
    }

    /// Advances the replayed slot state over `calls` (their cost not
    /// wanted); returns the primes loaded, in order.
    pub fn replay(&mut self, calls: &[Call]) -> Vec<usize> {
        let buffers = self.device.geo.buffers;
        let mut loads = Vec::new();
        for c in calls {
            let k = c.shape.inputs as usize;
            // `lincomb_multi_dev`'s grouping (each group's primes pinned
            // together); otherwise one slot per prime, in order.
            let groups = if c.shape.op == Op::LincombMulti && k > 0 && k + 2 <= buffers {
                self.slots.len().min(buffers - k - 1)
            } else {
                1
            };
            for group in c.primes.chunks(groups) {
                let mut pinned: Vec<u8> = Vec::new();
                for &m in group {
                    let s = match self.slots.pick(m, &pinned) {
                        Pick::Hit(s) => s,
                        Pick::Load(s) => {
                            self.slots.loaded(s, m);
                            loads.push(m);
                            s
                        }
                    };
                    pinned.push(s);
                }
            }
        }
        loads
    }

    fn load_price(&mut self, m: usize) -> Result<Costs, Error> {
        if let Some(c) = self.loads.get(&m) {
            return Ok(*c);
        }
        let c = self.device.price_load(m)?;
        self.loads.insert(m, c);
        Ok(c)
    }

    fn shape_price(&mut self, shape: Shape, primes: &[usize]) -> Result<Costs, Error> {
        if let Some(c) = self.prices.get(&shape) {
            return Ok(*c);
        }
        let c = if shape.op == Op::Host {
            Costs {
                host_calls: 1,
                ..Costs::default()
            }
        } else {
            let before = self.device.costs();
            self.run(shape, primes);
            self.device.check()?;
            Costs {
                modulus_loads: 0,
                load_link_bytes: 0,
                load_spi_cycles: 0,
                ..self.device.costs().since(&before)
            }
        };
        self.prices.insert(shape, c);
        Ok(c)
    }

    /// A word below `q` (splitmix64; fixed seed, so pricing is repeatable).
    fn below(&mut self, q: u32) -> u32 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % q as u64) as u32
    }

    fn limb(&mut self, q: u32) -> Vec<u32> {
        (0..self.device.n).map(|_| self.below(q)).collect()
    }

    /// Runs one call of `shape` on the device with random reduced data.
    fn run(&mut self, shape: Shape, primes: &[usize]) {
        let dev = Arc::clone(&self.device);
        let n = dev.n;
        let m = primes[0];
        let q = dev.moduli[m].value();
        let (mut a, b, c) = (self.limb(q), self.limb(q), self.below(q));
        let mut out = vec![0u32; n];
        let mut out1 = vec![0u32; n];
        match shape.op {
            Op::NttFwd => dev.ntt_fwd(m, &mut a),
            Op::NttInv => dev.ntt_inv(m, &mut a),
            Op::Add => dev.add(m, &a, &b, &mut out),
            Op::AddAssign => dev.add_assign(m, &mut a, &b),
            Op::Sub => dev.sub(m, &a, &b, &mut out),
            Op::SubAssign => dev.sub_assign(m, &mut a, &b),
            Op::Neg => dev.neg_assign(m, &mut a),
            Op::Mul => dev.mul(m, &a, &b, &mut out),
            Op::MulAssign => dev.mul_assign(m, &mut a, &b),
            Op::Mac => dev.mac(m, &a, &b, &mut out),
            Op::MulConst => dev.mul_const_assign(m, &mut a, c),
            Op::MacConst => dev.mac_const(m, &a, c, &mut out),
            Op::AddConst => dev.add_const_assign(m, &mut a, c),
            Op::SubMulConst => dev.sub_mul_const_assign(m, &mut a, &b, c),
            Op::Reduce => dev.reduce(m, &a, &mut out),
            Op::Mac2 => {
                let acc0 = self.limb(q);
                out.copy_from_slice(&acc0);
                let b1 = self.limb(q);
                dev.mac2(m, &a, &b, &b1, &mut out, &mut out1);
            }
            Op::Mul2 => {
                let b1 = self.limb(q);
                dev.mul2(m, &a, &b, &b1, &mut out, &mut out1);
            }
            Op::Lincomb | Op::LincombMulti => {
                let k = shape.inputs as usize;
                let inputs: Vec<Vec<u32>> = (0..k).map(|_| self.limb(q)).collect();
                let views: Vec<&[u32]> = inputs.iter().map(|x| &x[..]).collect();
                let consts: Vec<Vec<u32>> = primes
                    .iter()
                    .map(|&t| {
                        let qt = dev.moduli[t].value();
                        (0..k).map(|_| self.below(qt)).collect()
                    })
                    .collect();
                if shape.op == Op::Lincomb {
                    dev.lincomb(m, &views, &consts[0], &mut out);
                } else {
                    let cs: Vec<&[u32]> = consts.iter().map(|c| &c[..]).collect();
                    let mut outs = vec![0u32; primes.len() * n];
                    dev.lincomb_multi(primes, &views, &cs, &mut outs);
                }
            }
            Op::Host => {}
        }
    }
}
