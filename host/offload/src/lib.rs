//! The device backend of RNS-CKKS: [`DeviceBackend`] implements
//! [`ola_ckks::Backend`] with accelerator jobs sent through the firmware
//! protocol ([`ola_device::Device`]), to a board over a serial port or to
//! the simulated board (the real firmware over the cycle-exact simulator).
//! Its results are bit-identical to [`ola_ckks::CpuBackend`]'s: every
//! device job is exact modular arithmetic on reduced words, and the tests
//! compare the two word for word.
//!
//! **What runs where.**
//!
//! | `Backend` method | device jobs (per block of `N_max` words) |
//! |---|---|
//! | `ntt_fwd` / `ntt_inv`, `N ≤ N_max` | one `Ntt` / `Intt` |
//! | `ntt_fwd`, `N > N_max` | `log2(N/N_max)` Cooley–Tukey stages on whole blocks (`MulConst`, `Sub`, `Add`), a twist `Mul` by `γ_j^i`, an `N_max`-point `Ntt` |
//! | `ntt_inv`, `N > N_max` | `Intt`, untwist `Mul` by `γ_j^-i / B`, Gentleman–Sande stages (`Sub`, `Add`, `MulConst`) |
//! | `add`, `sub`, `mul` (and `_assign`) | `Add`, `Sub`, `Mul` |
//! | `neg_assign` | `MulConst` by `q − 1` |
//! | `mac`, `mac2`, `mul2` | `Mac`, two `Mac`s, two `Mul`s |
//! | `mul_const_assign`, `mac_const` | `MulConst` (+ `Add`) |
//! | `add_const_assign` | a constant block generated on the device (16 words written, doubled by `MulConst` by 1), `Add` |
//! | `sub_mul_const_assign` | `Sub`, `MulConst` |
//! | `reduce`, `lincomb`, `lincomb_multi` | `MulConst` of the unreduced words (`x < 2^30`, `c < q`: the Barrett pipeline is exact for any product below `2^(2b)` = `2^60`), `Add` |
//! | `round_fixed`, `permute` | **host** (integer fixed-point rounding and data movement: no modular job does them) |
//! | `mac_lazy`, `mac_lazy2`, `reduce_lazy`, `fold_lazy` | **host** (unreduced `u64` sums have no device form; [`Backend::lazy_accumulation`] is `false`, so ola-ckks does not call them) |
//!
//! **The split NTT** (`N = B · M`, `M = N_max`). The first `log2 B` stages
//! of ola-arith's in-place Cooley–Tukey transform use one twiddle per
//! half-block, so they are block-wise `MulConst`/`Sub`/`Add` jobs. After
//! them block `j` holds the residue of `a` modulo `X^M − ζ_j`; with
//! `γ_j = ψ_N^(2·rev_B(j) + 1 − B)` (so `γ_j · ψ_M = ψ_N^(2·rev_B(j)+1)`,
//! `ψ_M = ψ_N^B` being the device's nested root), `c_i = b_i · γ_j^i` is a
//! negacyclic polynomial whose `M`-point NTT (bit-reversed) is exactly
//! block `j` of the `N`-point output: `rev_N(jM + t) = rev_B(j) +
//! B·rev_M(t)`. No permutation is needed. The twist vector is generated on
//! the device from 16 seed words by doubling (`MulConst` by `γ^(2^k)`), so
//! only the data crosses the link. When a limb does not fit the device's
//! buffers the stages are done in passes over groups of blocks (each pass
//! moves the limb in and out once).
//!
//! **Moduli.** The device has a few modulus slots (4 on `p8`); primes are
//! loaded on demand, least recently used first out; every load is counted
//! in [`Costs`].
//!
//! **Errors.** The [`ola_ckks::Backend`] trait is infallible. The first
//! device failure is kept (sticky): every later operation does nothing, and
//! [`DeviceBackend::check`] reports it. A caller must call `check` before
//! trusting any result computed through this backend.
//!
//! **Restarts.** Every operation runs under [`Device::run_verified`]: it
//! writes all its inputs, so a device that restarted underneath it is
//! caught and the operation redone (or an error recorded).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use ola_arith::Modulus;
use ola_arith::roots::{bit_reverse, canonical_root};
use ola_ckks::Backend;
use ola_device::Device;
use ola_device::sim::{ACCEL_HZ, DEFAULT_BAUD, SimTime};
use ola_spec::JobOp;

pub mod priced;

pub use ola_device;
pub use ola_device::Job;
use ola_device::sim::{SimBoard, SimBoardConfig};
use ola_device::{DeviceConfig, SerialTransport};

/// A simulated reference board (`p8`, the real firmware over the
/// cycle-exact simulator) over an in-process channel, and the device
/// handle to it with the board's clock attached.
pub fn sim_channel(config: DeviceConfig) -> std::io::Result<(Device, SimBoard)> {
    let (transport, board) = SimBoard::channel(SimBoardConfig::default())?;
    let device = Device::new(transport, config).with_clock(board.clock());
    Ok((device, board))
}

/// A simulated reference board reached over a pseudo-terminal, opened by
/// its path as a real board's serial port is.
pub fn sim_pty(config: DeviceConfig) -> std::io::Result<(Device, SimBoard, String)> {
    let (path, board) = SimBoard::pty_path(SimBoardConfig::default())?;
    let transport = SerialTransport::open(&path, DEFAULT_BAUD)?;
    let device = Device::new(transport, config).with_clock(board.clock());
    Ok((device, board, path))
}

/// A board on the serial port `path` (the board's UART rate).
pub fn serial(path: &str, config: DeviceConfig) -> std::io::Result<Device> {
    Ok(Device::new(
        SerialTransport::open(path, DEFAULT_BAUD)?,
        config,
    ))
}

/// Why the backend cannot be built or stopped working.
#[derive(Clone, Debug)]
pub enum Error {
    /// The device failed (the first failure; later operations were
    /// skipped).
    Device(Arc<ola_device::Error>),
    /// The device cannot serve this parameter set (a prime its slots do
    /// not accept, too little memory, …).
    Unsupported(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Device(e) => write!(f, "device backend: {e}"),
            Error::Unsupported(why) => write!(f, "device backend: {why}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<ola_device::Error> for Error {
    fn from(e: ola_device::Error) -> Self {
        Error::Device(Arc::new(e))
    }
}

/// What the backend's device work has cost so far (see
/// [`DeviceBackend::costs`]); subtract two snapshots with
/// [`Costs::since`].
///
/// Cycles are accelerator cycles at [`ACCEL_HZ`]. Data movement is the
/// host link (10 bit times a byte at the board's UART rate,
/// [`DEFAULT_BAUD`]) plus, on the simulated board, the SPI transactions
/// between the MCU and the accelerator (on a real board the SPI time is
/// not observable from the host and counts as 0).
// Serializable: `ola costs` keeps measured prices in its price file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Costs {
    /// Backend calls that ran on the device.
    pub device_calls: u64,
    /// Backend calls served on the host (`round_fixed`, `permute`, the
    /// lazy accumulations).
    pub host_calls: u64,
    /// NTTs and inverse NTTs (of `N` points) among the device calls.
    pub ntts: u64,
    /// Compute: the accelerator cycles of the jobs run, as the device
    /// reported them.
    pub compute_cycles: u64,
    /// Jobs run.
    pub jobs: u64,
    /// Host-link bytes of the data movement (both directions).
    pub link_bytes: u64,
    /// SPI cycles of the data movement (simulated board only).
    pub spi_cycles: u64,
    /// Moduli loaded into a slot (first loads and reloads after an
    /// eviction).
    pub modulus_loads: u64,
    /// Host-link bytes of the modulus loads.
    pub load_link_bytes: u64,
    /// SPI cycles of the modulus loads (twiddle tables written by the
    /// firmware; simulated board only).
    pub load_spi_cycles: u64,
}

/// Accelerator cycles the host link needs for `bytes` bytes.
fn link_cycles(bytes: u64) -> u64 {
    bytes * 10 * ACCEL_HZ / DEFAULT_BAUD as u64
}

impl Costs {
    /// Data-movement cycles: host link plus SPI.
    pub fn movement_cycles(&self) -> u64 {
        link_cycles(self.link_bytes) + self.spi_cycles
    }

    /// Modulus-load cycles: host link plus SPI.
    pub fn load_cycles(&self) -> u64 {
        link_cycles(self.load_link_bytes) + self.load_spi_cycles
    }

    /// Compute + data movement + modulus loads.
    pub fn total_cycles(&self) -> u64 {
        self.compute_cycles + self.movement_cycles() + self.load_cycles()
    }

    /// The cost of what ran between `earlier` and `self`.
    pub fn since(&self, earlier: &Costs) -> Costs {
        Costs {
            device_calls: self.device_calls - earlier.device_calls,
            host_calls: self.host_calls - earlier.host_calls,
            ntts: self.ntts - earlier.ntts,
            compute_cycles: self.compute_cycles - earlier.compute_cycles,
            jobs: self.jobs - earlier.jobs,
            link_bytes: self.link_bytes - earlier.link_bytes,
            spi_cycles: self.spi_cycles - earlier.spi_cycles,
            modulus_loads: self.modulus_loads - earlier.modulus_loads,
            load_link_bytes: self.load_link_bytes - earlier.load_link_bytes,
            load_spi_cycles: self.load_spi_cycles - earlier.load_spi_cycles,
        }
    }
}

/// How the backend uses the device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Use at most this many `N_max`-word buffers (default: all the
    /// device's user memory). Fewer force the streamed passes of the split
    /// NTT; at least 5 are needed.
    pub max_buffers: Option<usize>,
    /// Use at most this many modulus slots (default: all).
    pub max_slots: Option<usize>,
}

/// How limbs map onto the device.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    /// Words of a block: `min(N, N_max)`.
    block: usize,
    log_block: u32,
    /// Blocks per limb (`B`).
    blocks: usize,
    log_blocks: u32,
    /// Words between buffers (`N_max`).
    stride: u32,
    /// Usable buffers.
    buffers: usize,
}

/// The device state behind the mutex.
struct Inner {
    device: Device,
    /// Prime index held by each modulus slot.
    slots: Slots,
    error: Option<Arc<ola_device::Error>>,
    costs: Costs,
}

/// The modulus slots' contents and their least-recently-used policy: one
/// definition, used by the backend and by [`priced`]'s replay of a
/// recorded call sequence, so the two cannot disagree on which call loads
/// which prime.
#[derive(Clone, Debug)]
struct Slots {
    held: Vec<Option<usize>>,
    last_use: Vec<u64>,
    tick: u64,
}

/// Where [`Slots::pick`] puts a prime.
enum Pick {
    /// Already in this slot.
    Hit(u8),
    /// To be loaded into this slot (then [`Slots::loaded`]).
    Load(u8),
}

impl Slots {
    fn new(count: usize) -> Self {
        Slots {
            held: vec![None; count],
            last_use: vec![0; count],
            tick: 0,
        }
    }

    fn len(&self) -> usize {
        self.held.len()
    }

    /// The slot of prime `m`: where it is, or the victim (empty first,
    /// then least recently used) among the slots not in `pinned`.
    fn pick(&mut self, m: usize, pinned: &[u8]) -> Pick {
        self.tick += 1;
        if let Some(s) = self.held.iter().position(|&p| p == Some(m)) {
            self.last_use[s] = self.tick;
            return Pick::Hit(s as u8);
        }
        let s = (0..self.held.len())
            .filter(|&s| !pinned.contains(&(s as u8)))
            .min_by_key(|&s| (self.held[s].is_some(), self.last_use[s]))
            .expect("fewer pinned slots than slots");
        Pick::Load(s as u8)
    }

    /// Slot `s` now holds prime `m` (after [`Pick::Load`]).
    fn loaded(&mut self, s: u8, m: usize) {
        self.held[s as usize] = Some(m);
        self.last_use[s as usize] = self.tick;
    }
}

/// Seed words of a twist vector, written per block.
const SEED: usize = 16;
const LOG_SEED: u32 = 4;

/// [`Backend`] on an accelerator through the firmware protocol. See the
/// crate documentation.
pub struct DeviceBackend {
    n: usize,
    log_n: u32,
    moduli: Vec<Modulus>,
    geo: Geometry,
    inner: Mutex<Inner>,
}

impl fmt::Debug for DeviceBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceBackend")
            .field("n", &self.n)
            .field("moduli", &self.moduli.len())
            .field("geometry", &self.geo)
            .finish_non_exhaustive()
    }
}

fn job(op: JobOp, log_n: u32, slot: u8, a: u32, b: u32, dst: u32, constant: u32) -> Job {
    Job::new(op, log_n as u8, slot, a, dst)
        .with_b(b)
        .with_constant(constant)
}

impl DeviceBackend {
    /// A backend for ring degree `n` and `moduli` (`Q` then `P`, as
    /// [`ola_ckks::Params::all_moduli`]) on `device`. Fails if the device
    /// does not answer, or cannot hold these primes (each must have
    /// exactly the device's word bits and support the `N`-point NTT) or
    /// this degree.
    pub fn new(device: Device, n: usize, moduli: &[Modulus]) -> Result<Self, Error> {
        Self::with_options(device, n, moduli, Options::default())
    }

    /// [`DeviceBackend::new`] with [`Options`].
    pub fn with_options(
        mut device: Device,
        n: usize,
        moduli: &[Modulus],
        options: Options,
    ) -> Result<Self, Error> {
        let info = device.info()?;
        let max_n = 1usize << info.log_max_n;
        if !n.is_power_of_two() || n < 16 {
            return Err(Error::Unsupported(format!(
                "ring degree {n} is not a power of two ≥ 16"
            )));
        }
        let log_n = n.trailing_zeros();
        let block = n.min(max_n);
        let blocks = n / block;
        let device_buffers = info.user_words as usize / max_n;
        let buffers = options
            .max_buffers
            .unwrap_or(device_buffers)
            .min(device_buffers);
        let need = if blocks > 1 { 5 } else { 5.min(device_buffers) };
        if buffers < need || buffers < 2 {
            return Err(Error::Unsupported(format!(
                "{buffers} buffers of {max_n} words; at least {need} are needed"
            )));
        }
        let slots = options
            .max_slots
            .unwrap_or(info.slots as usize)
            .min(info.slots as usize);
        if slots == 0 {
            return Err(Error::Unsupported("the device has no modulus slot".into()));
        }
        for m in moduli {
            let q = m.value();
            if m.bits() != info.word_bits as u32 {
                return Err(Error::Unsupported(format!(
                    "prime {q} has {} bits; the device's slots take exactly {}",
                    m.bits(),
                    info.word_bits
                )));
            }
            if canonical_root(m, 2 * n as u64).is_none() {
                return Err(Error::Unsupported(format!(
                    "prime {q} has no {}-th root of unity",
                    2 * n
                )));
            }
        }
        Ok(DeviceBackend {
            n,
            log_n,
            moduli: moduli.to_vec(),
            geo: Geometry {
                block,
                log_block: block.trailing_zeros(),
                blocks,
                log_blocks: blocks.trailing_zeros(),
                stride: max_n as u32,
                buffers,
            },
            inner: Mutex::new(Inner {
                device,
                slots: Slots::new(slots),
                error: None,
                costs: Costs::default(),
            }),
        })
    }

    /// The first device failure, if any: every result computed since it
    /// happened is garbage (the operations were skipped). Call this before
    /// trusting a result.
    pub fn check(&self) -> Result<(), Error> {
        match &self.lock().error {
            Some(e) => Err(Error::Device(Arc::clone(e))),
            None => Ok(()),
        }
    }

    /// The costs so far.
    pub fn costs(&self) -> Costs {
        self.lock().costs
    }

    /// Runs `f` on the device handle (for its statistics or its simulated
    /// clock); the backend's own bookkeeping is not touched.
    pub fn with_device<T>(&self, f: impl FnOnce(&mut Device) -> T) -> T {
        f(&mut self.lock().device)
    }

    /// Blocks per limb (`N / N_max`, at least 1).
    pub fn blocks(&self) -> usize {
        self.geo.blocks
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in another thread cannot leave the device half-driven in
        // a way `run_verified` would not notice: go on with the state.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn addr(&self, buffer: usize) -> u32 {
        buffer as u32 * self.geo.stride
    }

    /// The slot holding prime `m`, loading it (LRU eviction) if needed.
    fn slot(&self, inner: &mut Inner, m: usize) -> Option<u8> {
        self.slot_pinned(inner, m, &[])
    }

    /// [`DeviceBackend::slot`] that does not evict the slots in `pinned`
    /// (which the caller still needs in the same batch).
    fn slot_pinned(&self, inner: &mut Inner, m: usize, pinned: &[u8]) -> Option<u8> {
        match inner.slots.pick(m, pinned) {
            Pick::Hit(s) => Some(s),
            Pick::Load(s) => self.load(inner, s, m).then_some(s),
        }
    }

    /// Loads prime `m` into slot `s`, counting the load; `false` (and the
    /// error kept) if the device failed.
    fn load(&self, inner: &mut Inner, s: u8, m: usize) -> bool {
        let q = self.moduli[m].value();
        match inner.device.measure(|d| d.load_moduli(s, &[q])) {
            Ok(((), cost)) => {
                let sim = cost.sim.unwrap_or_default();
                inner.costs.modulus_loads += 1;
                inner.costs.load_link_bytes += cost.link_bytes;
                inner.costs.load_spi_cycles += sim.spi_cycles;
                inner.slots.loaded(s, m);
                true
            }
            Err(e) => {
                // The slot's content is unknown now.
                inner.slots.held[s as usize] = None;
                inner.error = Some(Arc::new(e));
                false
            }
        }
    }

    /// Loads prime `m` into a slot (again if it is resident) and returns
    /// what that load cost: [`priced`]'s price of a modulus load.
    fn price_load(&self, m: usize) -> Result<Costs, Error> {
        let mut inner = self.lock();
        if let Some(e) = &inner.error {
            return Err(Error::Device(Arc::clone(e)));
        }
        let before = inner.costs;
        let (Pick::Hit(s) | Pick::Load(s)) = inner.slots.pick(m, &[]);
        if !self.load(&mut inner, s, m) {
            let e = inner.error.clone().expect("a failed load keeps its error");
            return Err(Error::Device(e));
        }
        Ok(inner.costs.since(&before))
    }

    /// Writes, runs one batch, reads: the unit of device work, measured and
    /// verified against device restarts.
    fn exec(
        &self,
        inner: &mut Inner,
        writes: &[(u32, &[u32])],
        jobs: &[Job],
        reads: &mut [(u32, &mut [u32])],
    ) -> bool {
        let result = inner.device.measure(|d| {
            d.run_verified(|d| {
                for &(addr, words) in writes {
                    d.write_buffer(addr, words)?;
                }
                if !jobs.is_empty() {
                    d.run_batch(jobs)?;
                }
                for (addr, out) in reads.iter_mut() {
                    d.read_buffer(*addr, out)?;
                }
                Ok(())
            })
        });
        match result {
            Ok(((), cost)) => {
                let sim: SimTime = cost.sim.unwrap_or_default();
                inner.costs.compute_cycles += cost.job_cycles;
                inner.costs.jobs += jobs.len() as u64;
                inner.costs.link_bytes += cost.link_bytes;
                inner.costs.spi_cycles += sim.spi_cycles;
                true
            }
            Err(e) => {
                inner.error = Some(Arc::new(e));
                false
            }
        }
    }

    /// One limb-wise operation: `inputs` (limbs of `N` words) go block by
    /// block to buffers `0..k` of a block's set, `temps` more buffers
    /// follow (the first gets `seed` written at its start, if given);
    /// `jobs(buf)` lists one block's jobs given the address of each of its
    /// buffers; the limbs in buffers `outs` come back. `None` after a
    /// device failure (now or earlier).
    fn vector(
        &self,
        m: usize,
        inputs: &[&[u32]],
        temps: usize,
        seed: Option<&[u32]>,
        outs: &[usize],
        jobs: impl Fn(&dyn Fn(usize) -> u32, u8, u32) -> Vec<Job>,
    ) -> Option<Vec<Vec<u32>>> {
        let g = self.geo;
        for x in inputs {
            assert_eq!(x.len(), self.n, "limb length must equal N = {}", self.n);
        }
        let mut inner = self.lock();
        if inner.error.is_some() {
            return None;
        }
        let slot = self.slot(&mut inner, m)?;
        inner.costs.device_calls += 1;
        let per = inputs.len() + temps;
        assert!(
            per <= g.buffers,
            "an operation needs more buffers than exist"
        );
        let group = g.buffers / per;
        let mut out: Vec<Vec<u32>> = outs.iter().map(|_| vec![0u32; self.n]).collect();
        let bs = g.block;
        for first in (0..g.blocks).step_by(group) {
            let count = group.min(g.blocks - first);
            let mut writes: Vec<(u32, &[u32])> = Vec::new();
            let mut batch = Vec::new();
            for i in 0..count {
                let base = i * per;
                let blk = first + i;
                for (k, x) in inputs.iter().enumerate() {
                    writes.push((self.addr(base + k), &x[blk * bs..(blk + 1) * bs]));
                }
                if let (Some(seed), true) = (seed, temps > 0) {
                    writes.push((self.addr(base + inputs.len()), seed));
                }
                let buf = |k: usize| self.addr(base + k);
                batch.extend(jobs(&buf, slot, g.log_block));
            }
            let mut reads: Vec<(u32, &mut [u32])> = Vec::new();
            let mut views: Vec<std::slice::ChunksExactMut<'_, u32>> = out
                .iter_mut()
                .map(|o| o[first * bs..(first + count) * bs].chunks_exact_mut(bs))
                .collect();
            for i in 0..count {
                for (o, &k) in outs.iter().enumerate() {
                    let chunk = views[o].next().expect("one chunk per block");
                    reads.push((self.addr(i * per + k), chunk));
                }
            }
            if !self.exec(&mut inner, &writes, &batch, &mut reads) {
                return None;
            }
        }
        Some(out)
    }

    /// The jobs that fill `len` words at `dst` with copies of the 16 seed
    /// words already there, each doubling multiplied by `factors[k]`
    /// (`factor(k)` multiplies the copy of words `0..2^k` to `2^k..2^(k+1)`).
    fn doubling_jobs(
        &self,
        slot: u8,
        dst: u32,
        log_len: u32,
        factor: impl Fn(u32) -> u32,
    ) -> Vec<Job> {
        (LOG_SEED..log_len)
            .map(|k| job(JobOp::MulConst, k, slot, dst, 0, dst + (1 << k), factor(k)))
            .collect()
    }

    fn ntt(&self, m: usize, a: &mut [u32], inverse: bool) {
        let g = self.geo;
        assert_eq!(a.len(), self.n, "limb length must equal N = {}", self.n);
        if g.blocks == 1 {
            let op = if inverse { JobOp::Intt } else { JobOp::Ntt };
            let out = self.vector(m, &[a], 0, None, &[0], |buf, slot, log| {
                vec![job(op, log, slot, buf(0), 0, buf(0), 0)]
            });
            if let Some(out) = out {
                a.copy_from_slice(&out[0]);
                self.lock().costs.ntts += 1;
            }
            return;
        }
        let mut inner = self.lock();
        if inner.error.is_some() {
            return;
        }
        let Some(slot) = self.slot(&mut inner, m) else {
            return;
        };
        inner.costs.device_calls += 1;
        inner.costs.ntts += 1;
        let md = &self.moduli[m];
        let two_n = 2 * self.n as u64;
        let psi = canonical_root(md, two_n).expect("checked at construction");
        let pow = |e: u64| md.pow(psi, e % two_n);
        let lb = g.log_blocks;
        let b = g.blocks;
        // Stages per pass: the largest group of blocks that fits beside
        // the temporary, twist and seed buffers.
        let cap_log = (usize::BITS - 1 - (g.buffers - 3).leading_zeros()).min(lb);
        let ranges: Vec<(u32, u32)> = (0..lb)
            .step_by(cap_log as usize)
            .map(|s0| (s0, (s0 + cap_log).min(lb)))
            .collect();
        let order: Vec<(u32, u32)> = if inverse {
            ranges.iter().rev().copied().collect()
        } else {
            ranges.clone()
        };
        let b_inv = md.inv(md.reduce(b as u64)).expect("B is invertible");
        let stride = g.stride;
        // The temporary, twist and seed buffers: the last three.
        let (t, tw, sd) = (
            self.addr(g.buffers - 3),
            self.addr(g.buffers - 2),
            self.addr(g.buffers - 1),
        );
        let bs = g.block;
        for &(s0, s1) in &order {
            let last = s1 == lb;
            let w = s1 - s0;
            let lo = lb - s1;
            for o in 0..(b >> w) {
                let low = o & ((1 << lo) - 1);
                let high = (o >> lo) << (lb - s0);
                let idx: Vec<usize> = (0..1usize << w).map(|x| high | (x << lo) | low).collect();
                let data = |x: usize| x as u32 * stride;
                let mut writes: Vec<(u32, &[u32])> = idx
                    .iter()
                    .enumerate()
                    .map(|(x, &j)| (data(x), &a[j * bs..(j + 1) * bs]))
                    .collect();
                let mut jobs = Vec::new();
                let mut seeds = Vec::new();
                // Twist exponent of block j: 2·rev_B(j) + 1 − B (mod 2N).
                let twist = |j: usize| {
                    let e = (2 * bit_reverse(j, lb) as u64 + 1 + two_n - b as u64) % two_n;
                    if inverse { pow(two_n - e) } else { pow(e) }
                };
                let stage_jobs = |s: u32, jobs: &mut Vec<Job>| {
                    let p = lb - 1 - s;
                    let bit = 1usize << (p - lo);
                    for x in (0..1usize << w).filter(|x| x & bit == 0) {
                        let (u, v) = (data(x), data(x | bit));
                        let gi = idx[x] >> (lb - s);
                        let wf = pow(bit_reverse((1 << s) + gi, self.log_n) as u64);
                        let lg = g.log_block;
                        if inverse {
                            let wi = md.inv(wf).expect("roots are invertible");
                            jobs.push(job(JobOp::Sub, lg, slot, u, v, t, 0));
                            jobs.push(job(JobOp::Add, lg, slot, u, v, u, 0));
                            jobs.push(job(JobOp::MulConst, lg, slot, t, 0, v, wi));
                        } else {
                            jobs.push(job(JobOp::MulConst, lg, slot, v, 0, t, wf));
                            jobs.push(job(JobOp::Sub, lg, slot, u, t, v, 0));
                            jobs.push(job(JobOp::Add, lg, slot, u, t, u, 0));
                        }
                    }
                };
                let block_jobs = |x: usize, jobs: &mut Vec<Job>| {
                    let gamma = twist(idx[x]);
                    let lg = g.log_block;
                    let d = data(x);
                    if inverse {
                        jobs.push(job(JobOp::Intt, lg, slot, d, 0, d, 0));
                    }
                    jobs.push(job(
                        JobOp::MulConst,
                        LOG_SEED,
                        slot,
                        sd + (x * SEED) as u32,
                        0,
                        tw,
                        1,
                    ));
                    jobs.extend(self.doubling_jobs(slot, tw, lg, |k| md.pow(gamma, 1u64 << k)));
                    jobs.push(job(JobOp::Mul, lg, slot, d, tw, d, 0));
                    if !inverse {
                        jobs.push(job(JobOp::Ntt, lg, slot, d, 0, d, 0));
                    }
                };
                if last {
                    for &j in &idx {
                        let gamma = twist(j);
                        let mut v = if inverse { b_inv } else { 1 };
                        for _ in 0..SEED {
                            seeds.push(v);
                            v = md.mul(v, gamma);
                        }
                    }
                }
                if inverse {
                    if last {
                        for x in 0..idx.len() {
                            block_jobs(x, &mut jobs);
                        }
                    }
                    for s in (s0..s1).rev() {
                        stage_jobs(s, &mut jobs);
                    }
                } else {
                    for s in s0..s1 {
                        stage_jobs(s, &mut jobs);
                    }
                    if last {
                        for x in 0..idx.len() {
                            block_jobs(x, &mut jobs);
                        }
                    }
                }
                if last {
                    writes.push((sd, &seeds));
                }
                let mut result = vec![0u32; idx.len() * bs];
                {
                    let mut reads: Vec<(u32, &mut [u32])> = result
                        .chunks_exact_mut(bs)
                        .enumerate()
                        .map(|(x, c)| (data(x), c))
                        .collect();
                    if !self.exec(&mut inner, &writes, &jobs, &mut reads) {
                        return;
                    }
                }
                drop(writes);
                for (x, &j) in idx.iter().enumerate() {
                    a[j * bs..(j + 1) * bs].copy_from_slice(&result[x * bs..(x + 1) * bs]);
                }
            }
        }
    }

    /// `Σ inputs[k] · consts[k] mod q_m` for inputs below `2^30`: chunks of
    /// inputs that fit beside an accumulator and a temporary; a partial sum
    /// goes back in with the next chunk.
    fn lincomb_dev(&self, m: usize, inputs: &[&[u32]], consts: &[u32]) -> Option<Vec<u32>> {
        assert_eq!(inputs.len(), consts.len(), "one constant per input");
        if inputs.is_empty() {
            // Still a device call, so a failed device shows.
            return self
                .vector(m, &[], 1, Some(&[0; SEED]), &[0], |buf, slot, log| {
                    self.doubling_jobs(slot, buf(0), log, |_| 1)
                })
                .map(|mut o| o.remove(0));
        }
        let chunk = (self.geo.buffers - 3).max(1);
        let mut partial: Option<Vec<u32>> = None;
        for (xs, cs) in inputs.chunks(chunk).zip(consts.chunks(chunk)) {
            let mut ins: Vec<&[u32]> = xs.to_vec();
            let has_acc = partial.is_some();
            if let Some(p) = &partial {
                ins.push(p);
            }
            let k = xs.len();
            let nin = ins.len();
            let out = self.vector(m, &ins, 2, None, &[nin], |buf, slot, log| {
                let (acc, t) = (buf(nin), buf(nin + 1));
                let mut jobs = Vec::new();
                for (i, &c) in cs.iter().enumerate() {
                    if i == 0 && !has_acc {
                        jobs.push(job(JobOp::MulConst, log, slot, buf(0), 0, acc, c));
                    } else {
                        jobs.push(job(JobOp::MulConst, log, slot, buf(i), 0, t, c));
                        let src = if i == 0 { buf(k) } else { acc };
                        jobs.push(job(JobOp::Add, log, slot, src, t, acc, 0));
                    }
                }
                jobs
            })?;
            partial = out.into_iter().next();
        }
        partial
    }

    /// [`Backend::lincomb_multi`] on the device: targets in groups (as
    /// many as there are slots and buffers), each group's primes loaded
    /// together, so a block of the inputs is written once per group
    /// rather than once per target. `false` if the inputs do not fit
    /// beside a temporary and an accumulator (the caller then loops).
    fn lincomb_multi_dev(
        &self,
        ms: &[usize],
        inputs: &[&[u32]],
        consts: &[&[u32]],
        out: &mut [u32],
    ) -> bool {
        let g = self.geo;
        let k = inputs.len();
        if k == 0 || k + 2 > g.buffers {
            return false;
        }
        for x in inputs {
            assert_eq!(x.len(), self.n, "limb length must equal N = {}", self.n);
        }
        let mut inner = self.lock();
        if inner.error.is_some() {
            return true;
        }
        let per_group = inner.slots.len().min(g.buffers - k - 1);
        let bs = g.block;
        let mut results = vec![0u32; out.len()];
        let t = self.addr(k);
        for (gi, group) in ms.chunks(per_group).enumerate() {
            let mut slots: Vec<u8> = Vec::new();
            for &m in group {
                let Some(s) = self.slot_pinned(&mut inner, m, &slots) else {
                    return true;
                };
                slots.push(s);
            }
            inner.costs.device_calls += 1;
            for blk in 0..g.blocks {
                let writes: Vec<(u32, &[u32])> = inputs
                    .iter()
                    .enumerate()
                    .map(|(i, x)| (self.addr(i), &x[blk * bs..(blk + 1) * bs]))
                    .collect();
                let mut jobs = Vec::new();
                for (j, &slot) in slots.iter().enumerate() {
                    let cs = consts[gi * per_group + j];
                    let acc = self.addr(k + 1 + j);
                    let lg = g.log_block;
                    for (i, &c) in cs.iter().enumerate() {
                        if i == 0 {
                            jobs.push(job(JobOp::MulConst, lg, slot, self.addr(0), 0, acc, c));
                        } else {
                            jobs.push(job(JobOp::MulConst, lg, slot, self.addr(i), 0, t, c));
                            jobs.push(job(JobOp::Add, lg, slot, acc, t, acc, 0));
                        }
                    }
                }
                let mut reads: Vec<(u32, &mut [u32])> = results[gi * per_group * self.n..]
                    .chunks_exact_mut(self.n)
                    .take(group.len())
                    .enumerate()
                    .map(|(j, limb)| (self.addr(k + 1 + j), &mut limb[blk * bs..(blk + 1) * bs]))
                    .collect();
                if !self.exec(&mut inner, &writes, &jobs, &mut reads) {
                    return true;
                }
            }
        }
        out.copy_from_slice(&results);
        true
    }

    fn host_call(&self) {
        self.lock().costs.host_calls += 1;
    }
}

/// Copies `src` into `dst` (a device result into the caller's limb).
fn put(dst: &mut [u32], src: Option<Vec<Vec<u32>>>, k: usize) {
    if let Some(src) = src {
        dst.copy_from_slice(&src[k]);
    }
}

impl Backend for DeviceBackend {
    fn n(&self) -> usize {
        self.n
    }

    fn moduli(&self) -> &[Modulus] {
        &self.moduli
    }

    fn lazy_accumulation(&self) -> bool {
        false
    }

    fn ntt_fwd(&self, m: usize, a: &mut [u32]) {
        self.ntt(m, a, false);
    }

    fn ntt_inv(&self, m: usize, a: &mut [u32]) {
        self.ntt(m, a, true);
    }

    fn add(&self, m: usize, a: &[u32], b: &[u32], out: &mut [u32]) {
        let r = self.vector(m, &[a, b], 0, None, &[0], |buf, slot, log| {
            vec![job(JobOp::Add, log, slot, buf(0), buf(1), buf(0), 0)]
        });
        put(out, r, 0);
    }

    fn add_assign(&self, m: usize, a: &mut [u32], b: &[u32]) {
        let r = self.vector(m, &[a, b], 0, None, &[0], |buf, slot, log| {
            vec![job(JobOp::Add, log, slot, buf(0), buf(1), buf(0), 0)]
        });
        put(a, r, 0);
    }

    fn sub(&self, m: usize, a: &[u32], b: &[u32], out: &mut [u32]) {
        let r = self.vector(m, &[a, b], 0, None, &[0], |buf, slot, log| {
            vec![job(JobOp::Sub, log, slot, buf(0), buf(1), buf(0), 0)]
        });
        put(out, r, 0);
    }

    fn sub_assign(&self, m: usize, a: &mut [u32], b: &[u32]) {
        let r = self.vector(m, &[a, b], 0, None, &[0], |buf, slot, log| {
            vec![job(JobOp::Sub, log, slot, buf(0), buf(1), buf(0), 0)]
        });
        put(a, r, 0);
    }

    fn neg_assign(&self, m: usize, a: &mut [u32]) {
        // -a = a · (q - 1): exact and reduced, and needs no zero block.
        let c = self.moduli[m].value() - 1;
        let r = self.vector(m, &[a], 0, None, &[0], |buf, slot, log| {
            vec![job(JobOp::MulConst, log, slot, buf(0), 0, buf(0), c)]
        });
        put(a, r, 0);
    }

    fn mul(&self, m: usize, a: &[u32], b: &[u32], out: &mut [u32]) {
        let r = self.vector(m, &[a, b], 0, None, &[0], |buf, slot, log| {
            vec![job(JobOp::Mul, log, slot, buf(0), buf(1), buf(0), 0)]
        });
        put(out, r, 0);
    }

    fn mul_assign(&self, m: usize, a: &mut [u32], b: &[u32]) {
        let r = self.vector(m, &[a, b], 0, None, &[0], |buf, slot, log| {
            vec![job(JobOp::Mul, log, slot, buf(0), buf(1), buf(0), 0)]
        });
        put(a, r, 0);
    }

    fn mac(&self, m: usize, a: &[u32], b: &[u32], acc: &mut [u32]) {
        let r = self.vector(m, &[a, b, acc], 0, None, &[2], |buf, slot, log| {
            vec![job(JobOp::Mac, log, slot, buf(0), buf(1), buf(2), 0)]
        });
        put(acc, r, 0);
    }

    fn mul_const_assign(&self, m: usize, a: &mut [u32], c: u32) {
        let r = self.vector(m, &[a], 0, None, &[0], |buf, slot, log| {
            vec![job(JobOp::MulConst, log, slot, buf(0), 0, buf(0), c)]
        });
        put(a, r, 0);
    }

    fn mac_const(&self, m: usize, a: &[u32], c: u32, acc: &mut [u32]) {
        let r = self.vector(m, &[a, acc], 0, None, &[1], |buf, slot, log| {
            vec![
                job(JobOp::MulConst, log, slot, buf(0), 0, buf(0), c),
                job(JobOp::Add, log, slot, buf(1), buf(0), buf(1), 0),
            ]
        });
        put(acc, r, 0);
    }

    fn add_const_assign(&self, m: usize, a: &mut [u32], c: u32) {
        // The constant block is made on the device: 16 words written,
        // doubled by `MulConst` by 1.
        let seed = [c; SEED];
        let r = self.vector(m, &[a], 1, Some(&seed), &[0], |buf, slot, log| {
            let mut jobs = self.doubling_jobs(slot, buf(1), log, |_| 1);
            jobs.push(job(JobOp::Add, log, slot, buf(0), buf(1), buf(0), 0));
            jobs
        });
        put(a, r, 0);
    }

    fn sub_mul_const_assign(&self, m: usize, a: &mut [u32], b: &[u32], c: u32) {
        let r = self.vector(m, &[a, b], 0, None, &[0], |buf, slot, log| {
            vec![
                job(JobOp::Sub, log, slot, buf(0), buf(1), buf(0), 0),
                job(JobOp::MulConst, log, slot, buf(0), 0, buf(0), c),
            ]
        });
        put(a, r, 0);
    }

    fn reduce(&self, m: usize, a: &[u32], out: &mut [u32]) {
        // Barrett of x · 1 is exact for x < 2^30 (any product < 2^60).
        let r = self.vector(m, &[a], 0, None, &[0], |buf, slot, log| {
            vec![job(JobOp::MulConst, log, slot, buf(0), 0, buf(0), 1)]
        });
        put(out, r, 0);
    }

    fn lincomb(&self, m: usize, inputs: &[&[u32]], consts: &[u32], out: &mut [u32]) {
        assert_eq!(out.len(), self.n, "limb length must equal N = {}", self.n);
        if let Some(r) = self.lincomb_dev(m, inputs, consts) {
            out.copy_from_slice(&r);
        }
    }

    fn lincomb_multi(&self, ms: &[usize], inputs: &[&[u32]], consts: &[&[u32]], out: &mut [u32]) {
        assert!(
            ms.len() == consts.len() && out.len() == ms.len() * self.n,
            "one constant list and one output limb per target"
        );
        for c in consts {
            assert_eq!(c.len(), inputs.len(), "one constant per input");
        }
        if !self.lincomb_multi_dev(ms, inputs, consts, out) {
            for ((&m, c), o) in ms.iter().zip(consts).zip(out.chunks_exact_mut(self.n)) {
                self.lincomb(m, inputs, c, o);
            }
        }
    }

    fn mac_lazy(&self, a: &[u32], b: &[u32], acc: &mut [u64]) {
        // Unreduced u64 sums: no device form (ola-ckks does not call this
        // when `lazy_accumulation` is false); exact on the host.
        self.host_call();
        for ((o, &x), &y) in acc.iter_mut().zip(a).zip(b) {
            *o += x as u64 * y as u64;
        }
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
        let r = self.vector(
            m,
            &[a, b0, b1, acc0, acc1],
            0,
            None,
            &[3, 4],
            |buf, slot, log| {
                vec![
                    job(JobOp::Mac, log, slot, buf(0), buf(1), buf(3), 0),
                    job(JobOp::Mac, log, slot, buf(0), buf(2), buf(4), 0),
                ]
            },
        );
        if let Some(r) = r {
            acc0.copy_from_slice(&r[0]);
            acc1.copy_from_slice(&r[1]);
        }
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
        let r = self.vector(m, &[a, b0, b1], 0, None, &[1, 2], |buf, slot, log| {
            vec![
                job(JobOp::Mul, log, slot, buf(0), buf(1), buf(1), 0),
                job(JobOp::Mul, log, slot, buf(0), buf(2), buf(2), 0),
            ]
        });
        if let Some(r) = r {
            out0.copy_from_slice(&r[0]);
            out1.copy_from_slice(&r[1]);
        }
    }

    fn reduce_lazy(&self, m: usize, acc: &[u64], out: &mut [u32]) {
        self.host_call();
        let md = &self.moduli[m];
        for (o, &x) in out.iter_mut().zip(acc) {
            *o = md.reduce(x);
        }
    }

    fn fold_lazy(&self, m: usize, acc: &mut [u64]) {
        self.host_call();
        let md = &self.moduli[m];
        for x in acc.iter_mut() {
            *x = md.reduce(*x) as u64;
        }
    }

    fn round_fixed(&self, inputs: &[&[u32]], weights: &[u64], out: &mut [u32]) {
        // Integer fixed-point rounding, not modular arithmetic: no job
        // computes it, so it stays on the host (exact, as the CPU's).
        assert_eq!(inputs.len(), weights.len(), "one weight per input");
        assert_eq!(out.len(), self.n, "limb length must equal N = {}", self.n);
        self.host_call();
        for (k, o) in out.iter_mut().enumerate() {
            let sum: u128 = inputs
                .iter()
                .zip(weights)
                .map(|(x, &w)| x[k] as u128 * w as u128)
                .sum();
            *o = ((sum + (1 << 63)) >> 64) as u32;
        }
    }

    fn permute(&self, a: &[u32], perm: &[u32], out: &mut [u32]) {
        // Pure data movement: the host does it while the data pass by.
        self.host_call();
        for (o, &p) in out.iter_mut().zip(perm) {
            *o = a[p as usize];
        }
    }
}
