//! The SPI peripheral bridge: the firmware CPU's SPI controller in, the
//! accelerator's word bus out, in the accelerator's clock domain.
//!
//! Wire format and timing: [`ola_spec::link`]. SCK, MOSI and CS_N pass
//! through two-flip-flop synchronisers; the bridge acts on the synchronised
//! SCK's rising edges only (both sides sample there in mode 0): it shifts
//! MOSI in, decodes the command word (read bit, count `n`) and the address
//! word, then issues exactly `n` bus accesses — a write when a data word is
//! complete, a read [`READ_PREFETCH_BITS`] bits before a read word starts,
//! so its data are on hand when the word's first bit goes out — and shifts
//! MISO out. CS_N high resets the state machine whenever it is seen, so a
//! transaction cut short has issued only the accesses whose bits were
//! clocked. Every bus output and MISO is a register:
//! [`ola_spec::link::BRIDGE_DELAY`] cycles after the rising edge.
//!
//! [`SpiAccelerator`] puts the bridge in front of an [`Accelerator`]: the
//! pins sck, mosi, cs_n, miso and the accelerator's `busy` (an interrupt
//! line for the CPU).

use rust_hdl::prelude::*;

use crate::accelerator::Accelerator;
use crate::config::Config;

pub use ola_spec::BUS_READ_LATENCY;
pub use ola_spec::link::{READ_PREFETCH_BITS, READ_WAIT_BITS};

/// The bridge: SPI pins on one side, a bus controller on the other.
#[derive(LogicBlock)]
pub struct SpiBridge {
    /// Accelerator clock.
    pub clock: Signal<In, Clock>,
    /// SPI clock from the controller (asynchronous).
    pub sck: Signal<In, Bit>,
    /// Controller out, peripheral in (asynchronous).
    pub mosi: Signal<In, Bit>,
    /// Chip select, active low (asynchronous).
    pub cs_n: Signal<In, Bit>,
    /// Controller in, peripheral out.
    pub miso: Signal<Out, Bit>,
    /// Bus word address.
    pub bus_address: Signal<Out, Bits<32>>,
    /// Bus word to write.
    pub bus_write_data: Signal<Out, Bits<32>>,
    /// Bus write this cycle.
    pub bus_write: Signal<Out, Bit>,
    /// Bus read this cycle.
    pub bus_read: Signal<Out, Bit>,
    /// Bus word read [`BUS_READ_LATENCY`] cycles before.
    pub bus_read_data: Signal<In, Bits<32>>,

    // Synchronisers. Chip select is carried inverted (`selected`) so that
    // the flip-flops' power-on value 0 means "not selected".
    sck_meta: DFF<Bit>,
    sck_sync: DFF<Bit>,
    sck_last: DFF<Bit>,
    mosi_meta: DFF<Bit>,
    mosi_sync: DFF<Bit>,
    selected_meta: DFF<Bit>,
    selected_sync: DFF<Bit>,

    // Transaction state. `phase`: 0 command, 1 address, 2 read wait bits,
    // 3 data; `finished`: the rest of the transaction is ignored. Counters
    // are only as wide as their range (`bit_index` 0..=31, `words_left` the
    // command's 16-bit count) and `word_last` (`bit_index` == 31) is
    // registered beside its counter, so no compare sits in front of the
    // state machine's enables.
    phase: DFF<Bits<2>>,
    finished: DFF<Bit>,
    bit_index: DFF<Bits<5>>,
    word_last: DFF<Bit>,
    shift_in: DFF<Bits<32>>,
    is_read: DFF<Bit>,
    words_left: DFF<Bits<16>>,
    next_address: DFF<Bits<32>>,
    // Bus outputs.
    address: DFF<Bits<32>>,
    write_data: DFF<Bits<32>>,
    write: DFF<Bit>,
    read: DFF<Bit>,
    // Read data: arriving BUS_READ_LATENCY cycles after `read` (the read
    // is `read_waiting` the cycle between), held until it is sent. At
    // MIN_CLOCK_RATIO the word is in `read_buffer` exactly at the rising
    // edge that loads it into `shift_out`.
    read_waiting: DFF<Bit>,
    read_arriving: DFF<Bit>,
    read_buffer: DFF<Bits<32>>,
    fetched: DFF<Bit>,
    shift_out: DFF<Bits<32>>,

    rise: Signal<Local, Bit>,
    incoming: Signal<Local, Bits<32>>,
    word_done: Signal<Local, Bit>,

    // Constants typed to their registers' widths (Verilator's WIDTH lint).
    phase_command: Constant<Bits<2>>,
    phase_address: Constant<Bits<2>>,
    phase_wait: Constant<Bits<2>>,
    phase_data: Constant<Bits<2>>,
    bit_0: Constant<Bits<5>>,
    bit_1: Constant<Bits<5>>,
    bit_6: Constant<Bits<5>>,
    bit_7: Constant<Bits<5>>,
    bit_30: Constant<Bits<5>>,
    words_0: Constant<Bits<16>>,
    words_1: Constant<Bits<16>>,
}

impl Default for SpiBridge {
    fn default() -> Self {
        // The bit numbers below: 8 read wait bits (fetch word 0 at bit 6,
        // send it after bit 7) and the next word fetched at bit 30.
        assert_eq!(READ_WAIT_BITS, 8, "bit_6, bit_7");
        assert_eq!(READ_PREFETCH_BITS, 2, "bit_6, bit_30");
        Self {
            clock: Default::default(),
            sck: Default::default(),
            mosi: Default::default(),
            cs_n: Default::default(),
            miso: Default::default(),
            bus_address: Default::default(),
            bus_write_data: Default::default(),
            bus_write: Default::default(),
            bus_read: Default::default(),
            bus_read_data: Default::default(),
            sck_meta: Default::default(),
            sck_sync: Default::default(),
            sck_last: Default::default(),
            mosi_meta: Default::default(),
            mosi_sync: Default::default(),
            selected_meta: Default::default(),
            selected_sync: Default::default(),
            phase: Default::default(),
            finished: Default::default(),
            bit_index: Default::default(),
            word_last: Default::default(),
            shift_in: Default::default(),
            is_read: Default::default(),
            words_left: Default::default(),
            next_address: Default::default(),
            address: Default::default(),
            write_data: Default::default(),
            write: Default::default(),
            read: Default::default(),
            read_waiting: Default::default(),
            read_arriving: Default::default(),
            read_buffer: Default::default(),
            fetched: Default::default(),
            shift_out: Default::default(),
            rise: Default::default(),
            incoming: Default::default(),
            word_done: Default::default(),
            phase_command: Constant::new(0.into()),
            phase_address: Constant::new(1.into()),
            phase_wait: Constant::new(2.into()),
            phase_data: Constant::new(3.into()),
            bit_0: Constant::new(0.into()),
            bit_1: Constant::new(1.into()),
            bit_6: Constant::new(6.into()),
            bit_7: Constant::new(7.into()),
            bit_30: Constant::new(30.into()),
            words_0: Constant::new(0.into()),
            words_1: Constant::new(1.into()),
        }
    }
}

impl Logic for SpiBridge {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            sck_meta,
            sck_sync,
            sck_last,
            mosi_meta,
            mosi_sync,
            selected_meta,
            selected_sync,
            phase,
            finished,
            bit_index,
            word_last,
            shift_in,
            is_read,
            words_left,
            next_address,
            address,
            write_data,
            write,
            read,
            read_waiting,
            read_arriving,
            read_buffer,
            fetched,
            shift_out
        );
        self.sck_meta.d.next = self.sck.val();
        self.sck_sync.d.next = self.sck_meta.q.val();
        self.sck_last.d.next = self.sck_sync.q.val();
        self.mosi_meta.d.next = self.mosi.val();
        self.mosi_sync.d.next = self.mosi_meta.q.val();
        self.selected_meta.d.next = !self.cs_n.val();
        self.selected_sync.d.next = self.selected_meta.q.val();

        self.miso.next = self.shift_out.q.val().get_bit(31);
        self.bus_address.next = self.address.q.val();
        self.bus_write_data.next = self.write_data.q.val();
        self.bus_write.next = self.write.q.val();
        self.bus_read.next = self.read.q.val();

        // Accesses last one cycle; read data are caught BUS_READ_LATENCY
        // cycles after.
        self.write.d.next = false;
        self.read.d.next = false;
        self.read_waiting.d.next = self.read.q.val();
        self.read_arriving.d.next = self.read_waiting.q.val();
        if self.read_arriving.q.val() {
            self.read_buffer.d.next = self.bus_read_data.val();
        }

        self.rise.next = self.sck_sync.q.val() & !self.sck_last.q.val();
        self.incoming.next = self.shift_in.q.val() << 1;
        if self.mosi_sync.q.val() {
            self.incoming.next = (self.shift_in.q.val() << 1) | 1;
        }
        self.word_done.next = self.word_last.q.val();

        if !self.selected_sync.q.val() {
            // Deselected: back to the start, MISO low.
            self.phase.d.next = self.phase_command.val();
            self.finished.d.next = false;
            self.bit_index.d.next = self.bit_0.val();
            self.word_last.d.next = false;
            self.fetched.d.next = false;
            self.shift_out.d.next = 0.into();
        } else if self.rise.val() & !self.finished.q.val() {
            self.shift_in.d.next = self.incoming.val();
            self.shift_out.d.next = self.shift_out.q.val() << 1;
            // 5 bits: 31 + 1 wraps to 0, the next word's first bit.
            self.bit_index.d.next = self.bit_index.q.val() + self.bit_1.val();
            self.word_last.d.next = self.bit_index.q.val() == self.bit_30.val();
            if self.phase.q.val() == self.phase_command.val() {
                if self.word_done.val() {
                    self.is_read.d.next = self.incoming.val().get_bit(31);
                    self.words_left.d.next = self.incoming.val().get_bits::<16>(0);
                    self.phase.d.next = self.phase_address.val();
                }
            } else if self.phase.q.val() == self.phase_address.val() {
                if self.word_done.val() {
                    self.next_address.d.next = self.incoming.val();
                    if self.words_left.q.val() == self.words_0.val() {
                        self.finished.d.next = true;
                    } else if self.is_read.q.val() {
                        self.phase.d.next = self.phase_wait.val();
                    } else {
                        self.phase.d.next = self.phase_data.val();
                    }
                }
            } else if self.phase.q.val() == self.phase_wait.val() {
                // Read wait bits (READ_WAIT_BITS = 8): fetch word 0 at the
                // second-to-last, start sending it after the last.
                if self.bit_index.q.val() == self.bit_6.val() {
                    self.read.d.next = true;
                    self.address.d.next = self.next_address.q.val();
                    self.next_address.d.next = self.next_address.q.val() + 1;
                    self.words_left.d.next = self.words_left.q.val() - self.words_1.val();
                    self.fetched.d.next = true;
                }
                if self.bit_index.q.val() == self.bit_7.val() {
                    self.phase.d.next = self.phase_data.val();
                    self.bit_index.d.next = self.bit_0.val();
                    self.shift_out.d.next = self.read_buffer.q.val();
                    self.fetched.d.next = false;
                }
            } else if self.is_read.q.val() {
                // Read data: fetch the next word two bits before it starts.
                if (self.bit_index.q.val() == self.bit_30.val())
                    & (self.words_left.q.val() != self.words_0.val())
                {
                    self.read.d.next = true;
                    self.address.d.next = self.next_address.q.val();
                    self.next_address.d.next = self.next_address.q.val() + 1;
                    self.words_left.d.next = self.words_left.q.val() - self.words_1.val();
                    self.fetched.d.next = true;
                }
                if self.word_done.val() {
                    if self.fetched.q.val() {
                        self.shift_out.d.next = self.read_buffer.q.val();
                        self.fetched.d.next = false;
                    } else {
                        self.finished.d.next = true;
                        self.shift_out.d.next = 0.into();
                    }
                }
            } else if self.word_done.val() {
                // Write data: one bus write per complete word.
                self.write.d.next = true;
                self.address.d.next = self.next_address.q.val();
                self.write_data.d.next = self.incoming.val();
                self.next_address.d.next = self.next_address.q.val() + 1;
                self.words_left.d.next = self.words_left.q.val() - self.words_1.val();
                if self.words_left.q.val() == self.words_1.val() {
                    self.finished.d.next = true;
                }
            }
        }
    }
}

/// The SPI-attached accelerator: [`SpiBridge`] driving an [`Accelerator`]
/// (type parameters as the accelerator's). Its ports are the board's pins.
#[derive(LogicBlock)]
pub struct SpiAccelerator<
    const P: usize,
    const DA: usize,
    const TA: usize,
    const EA: usize,
    const M: usize,
> {
    /// Accelerator clock.
    pub clock: Signal<In, Clock>,
    /// SPI clock.
    pub sck: Signal<In, Bit>,
    /// Controller out, peripheral in.
    pub mosi: Signal<In, Bit>,
    /// Chip select, active low.
    pub cs_n: Signal<In, Bit>,
    /// Controller in, peripheral out.
    pub miso: Signal<Out, Bit>,
    /// High while a job runs: the CPU may wait for its fall instead of
    /// polling `STATUS`.
    pub busy: Signal<Out, Bit>,
    /// The bridge (public so tests can watch its bus).
    pub bridge: SpiBridge,
    /// The accelerator.
    pub accelerator: Accelerator<P, DA, TA, EA, M>,
}

impl<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize>
    SpiAccelerator<P, DA, TA, EA, M>
{
    /// The SPI-attached accelerator of `config` (see [`Accelerator::new`]).
    pub fn new(config: &Config) -> Self {
        assert_eq!(BUS_READ_LATENCY, 2, "read_waiting, then read_arriving");
        Self {
            clock: Default::default(),
            sck: Default::default(),
            mosi: Default::default(),
            cs_n: Default::default(),
            miso: Default::default(),
            busy: Default::default(),
            bridge: Default::default(),
            accelerator: Accelerator::new(config),
        }
    }
}

impl<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize> Logic
    for SpiAccelerator<P, DA, TA, EA, M>
{
    #[hdl_gen]
    fn update(&mut self) {
        self.bridge.clock.next = self.clock.val();
        self.accelerator.clock.next = self.clock.val();
        self.bridge.sck.next = self.sck.val();
        self.bridge.mosi.next = self.mosi.val();
        self.bridge.cs_n.next = self.cs_n.val();
        self.miso.next = self.bridge.miso.val();
        self.accelerator.bus_address.next = self.bridge.bus_address.val();
        self.accelerator.bus_write_data.next = self.bridge.bus_write_data.val();
        self.accelerator.bus_write.next = self.bridge.bus_write.val();
        self.accelerator.bus_read.next = self.bridge.bus_read.val();
        self.bridge.bus_read_data.next = self.accelerator.bus_read_data.val();
        self.busy.next = self.accelerator.busy.val();
    }
}

impl<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize>
    crate::testing::Clocked for SpiAccelerator<P, DA, TA, EA, M>
{
    fn clock_input(&mut self) -> &mut Signal<In, Clock> {
        &mut self.clock
    }
}

/// The pins of [`SpiAccelerator`] in one cycle, as the controller drives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpiPins {
    /// `sck`.
    pub sck: bool,
    /// `mosi`.
    pub mosi: bool,
    /// `cs_n`.
    pub cs_n: bool,
}

impl Default for SpiPins {
    /// Idle: deselected, SCK low.
    fn default() -> Self {
        SpiPins {
            sck: false,
            mosi: false,
            cs_n: true,
        }
    }
}

impl SpiPins {
    /// Input port names and widths, in the order of [`SpiPins::values`].
    pub const PORTS: [(&'static str, usize); 3] = [("sck", 1), ("mosi", 1), ("cs_n", 1)];
    /// Output port names and widths, in the order of [`SpiOutputs::values`].
    pub const OUTPUT_PORTS: [(&'static str, usize); 2] = [("miso", 1), ("busy", 1)];

    /// The values in port order.
    pub fn values(&self) -> [u64; 3] {
        [self.sck as u64, self.mosi as u64, self.cs_n as u64]
    }
}

/// The outputs of [`SpiAccelerator`] in one cycle, and the bus between its
/// bridge and accelerator (not a port; visible in RustHDL's simulation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpiOutputs {
    /// `miso`.
    pub miso: bool,
    /// `busy`.
    pub busy: bool,
    /// The bus inputs the accelerator sees this cycle.
    pub bus: ola_spec::BusInputs,
}

impl SpiOutputs {
    /// The port values in the order of [`SpiPins::OUTPUT_PORTS`].
    pub fn values(&self) -> [u64; 2] {
        [self.miso as u64, self.busy as u64]
    }
}

impl<const P: usize, const DA: usize, const TA: usize, const EA: usize, const M: usize>
    SpiAccelerator<P, DA, TA, EA, M>
{
    /// Applies `pins`, samples the outputs and the internal bus (before the
    /// clock edge), and runs the edge: one accelerator cycle.
    pub fn cycle(&mut self, pins: &SpiPins) -> SpiOutputs {
        self.sck.next = pins.sck;
        self.mosi.next = pins.mosi;
        self.cs_n.next = pins.cs_n;
        crate::testing::settle(self);
        let out = SpiOutputs {
            miso: self.miso.val(),
            busy: self.busy.val(),
            bus: ola_spec::BusInputs {
                address: self.bridge.bus_address.val().to_u32(),
                write_data: self.bridge.bus_write_data.val().to_u32(),
                write: self.bridge.bus_write.val(),
                read: self.bridge.bus_read.val(),
            },
        };
        crate::testing::tick(self);
        out
    }
}

/// The SPI accelerator's pins, inputs then outputs, for [`crate::rtl_sim`].
pub fn spi_ports() -> (Vec<crate::rtl_sim::Port>, Vec<crate::rtl_sim::Port>) {
    use crate::rtl_sim::Port;
    (
        SpiPins::PORTS
            .iter()
            .map(|&(n, b)| Port::new(n, b))
            .collect(),
        SpiPins::OUTPUT_PORTS
            .iter()
            .map(|&(n, b)| Port::new(n, b))
            .collect(),
    )
}

/// Replays recorded pin inputs into `verilog` (the SPI accelerator's
/// emitted Verilog) and compares `miso` and `busy` on every cycle with
/// `outputs`; the error names the first differing cycle and signal.
pub fn replay_spi_in_verilog(
    simulator: crate::rtl_sim::Simulator,
    label: &str,
    verilog: &str,
    inputs: &[SpiPins],
    outputs: &[[u64; 2]],
) -> Result<(), String> {
    let (in_ports, out_ports) = spi_ports();
    let stimulus: Vec<Vec<u64>> = inputs.iter().map(|i| i.values().to_vec()).collect();
    let expected = outputs.iter().map(|o| o.to_vec());
    match crate::harness::replay_rows_in_verilog(
        simulator, label, verilog, &in_ports, &out_ports, &stimulus, expected,
    )? {
        None => Ok(()),
        Some((cycle, port, got, want)) => Err(format!(
            "cycle {cycle}: signal {} is {got:#x} in the Verilog, {want:#x} expected (pins {:?})",
            SpiPins::OUTPUT_PORTS[port].0,
            inputs[cycle]
        )),
    }
}

/// Runs `$body` with `$acc` bound to a fresh, connected [`SpiAccelerator`]
/// of the named configuration `$config`; `None` for an unknown name (as
/// [`crate::with_accelerator!`]).
#[macro_export]
macro_rules! with_spi_accelerator {
    ($config:expr, |$acc:ident| $body:expr) => {
        $crate::with_configured_block!($config, |$acc| $body, $crate::spi_bridge::SpiAccelerator)
    };
}
