//! The RP2040 board binary: the ola firmware's command server on UART0,
//! driving the accelerator over SPI0. Wiring and rates: `README.md`.

#![no_std]
#![no_main]

use embedded_hal::spi::MODE_0;
use embedded_hal_bus::spi::ExclusiveDevice;
use fugit::RateExtU32;
use ola_firmware::{Server, SpiBus};
use panic_halt as _;
use rp2040_hal::{
    self as hal, Clock,
    clocks::init_clocks_and_plls,
    gpio::{
        FunctionSioOutput, FunctionSpi, FunctionUart, Pin, PinState, Pins, PullDown,
        bank0::{Gpio0, Gpio1, Gpio16, Gpio17, Gpio18, Gpio19},
    },
    pac,
    sio::Sio,
    spi::{Enabled, Spi},
    uart::{DataBits, Enabled as UartEnabled, StopBits, UartConfig, UartPeripheral},
    watchdog::Watchdog,
};

/// The second-stage bootloader for the Pico's W25Q080 flash.
#[unsafe(link_section = ".boot2")]
#[used]
pub static BOOT2: [u8; 256] = rp2040_boot2::BOOT_LOADER_W25Q080;

/// The crystal on the Pico and most RP2040 boards.
const XOSC_HZ: u32 = 12_000_000;

/// The host link's rate (8N1, so 10 bit times a byte); the host's
/// simulated boards charge the same (`ola_device::sim::DEFAULT_BAUD`).
const UART_BAUD: u32 = 3_000_000;

/// SCK = `clk_peri / 8` = 15.625 MHz at the default 125 MHz: the reference
/// accelerator clock over `ola_spec::link::DEFAULT_CLOCK_RATIO`.
const SPI_SCK_HZ: u32 = 15_625_000;

type SpiPins = (
    Pin<Gpio19, FunctionSpi, PullDown>,
    Pin<Gpio16, FunctionSpi, PullDown>,
    Pin<Gpio18, FunctionSpi, PullDown>,
);
type CsPin = Pin<Gpio17, FunctionSioOutput, PullDown>;
type Accelerator = SpiBus<ExclusiveDevice<Spi<Enabled, pac::SPI0, SpiPins, 8>, CsPin, hal::Timer>>;
type UartPins = (
    Pin<Gpio0, FunctionUart, PullDown>,
    Pin<Gpio1, FunctionUart, PullDown>,
);

/// UART0 as the server's byte stream. A receive error (framing, parity,
/// overrun, break) means bytes were lost or damaged: it becomes a frame
/// delimiter, so the frame in progress fails its check and the host is
/// asked to retransmit, instead of the error stopping the server.
struct HostLink(UartPeripheral<UartEnabled, pac::UART0, UartPins>);

impl embedded_io::ErrorType for HostLink {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for HostLink {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        match embedded_io::Read::read(&mut self.0, buf) {
            Ok(n) => Ok(n),
            Err(_) => {
                buf[0] = 0;
                Ok(1)
            }
        }
    }
}

impl embedded_io::Write for HostLink {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(embedded_io::Write::write(&mut self.0, buf).unwrap_or(0))
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        let _ = embedded_io::Write::flush(&mut self.0);
        Ok(())
    }
}

#[hal::entry]
fn main() -> ! {
    let mut p = pac::Peripherals::take().unwrap();
    let mut watchdog = Watchdog::new(p.WATCHDOG);
    let clocks = init_clocks_and_plls(
        XOSC_HZ,
        p.XOSC,
        p.CLOCKS,
        p.PLL_SYS,
        p.PLL_USB,
        &mut p.RESETS,
        &mut watchdog,
    )
    .ok()
    .unwrap();
    let sio = Sio::new(p.SIO);
    let pins = Pins::new(p.IO_BANK0, p.PADS_BANK0, sio.gpio_bank0, &mut p.RESETS);
    let timer = hal::Timer::new(p.TIMER, &mut p.RESETS, &clocks);

    // UART0: TX GP0, RX GP1.
    let uart_pins: UartPins = (pins.gpio0.into_function(), pins.gpio1.into_function());
    let uart = UartPeripheral::new(p.UART0, uart_pins, &mut p.RESETS)
        .enable(
            UartConfig::new(UART_BAUD.Hz(), DataBits::Eight, None, StopBits::One),
            clocks.peripheral_clock.freq(),
        )
        .unwrap();

    // SPI0: MOSI GP19, MISO GP16, SCK GP18, mode 0. CS_N (GP17) is a plain
    // GPIO so it stays low for a whole transaction (the PL022's own chip
    // select pulses between frames in mode 0).
    let spi_pins: SpiPins = (
        pins.gpio19.into_function(),
        pins.gpio16.into_function(),
        pins.gpio18.into_function(),
    );
    let spi = Spi::<_, _, _, 8>::new(p.SPI0, spi_pins).init(
        &mut p.RESETS,
        clocks.peripheral_clock.freq(),
        SPI_SCK_HZ.Hz(),
        MODE_0,
    );
    let cs_n: CsPin = pins.gpio17.into_push_pull_output_in_state(PinState::High);
    // Infallible: the chip select is a plain GPIO.
    let device = ExclusiveDevice::new(spi, cs_n, timer).unwrap();

    // The server's buffers (frames, replay cache, a data chunk) live in a
    // static, so the RAM budget check sees them.
    let server =
        cortex_m::singleton!(: Server<Accelerator> = Server::new(SpiBus::new(device))).unwrap();
    let mut host = HostLink(uart);
    loop {
        // Blocking UART reads never end the stream; should `run` return,
        // serve on.
        let _ = server.run(&mut host);
    }
}
