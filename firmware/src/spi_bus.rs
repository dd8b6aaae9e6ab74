//! The accelerator's word bus over SPI, in the bridge's wire format
//! ([`ola_spec::link`]): one `SpiDevice` transaction per burst of at most
//! [`CHUNK_WORDS`] words, every field a big-endian 32-bit word, reads
//! with [`READ_WAIT_BITS`] zero bits between the address and the data.

use embedded_hal::spi::{Operation, SpiDevice};
use ola_spec::link::{READ_WAIT_BITS, WordBus, command};

/// Words per transaction: longer accesses are split (the stack buffer is
/// `4 · CHUNK_WORDS + 8` bytes).
pub const CHUNK_WORDS: usize = 128;

const WAIT_BYTES: usize = READ_WAIT_BITS as usize / 8;
const _: () = assert!(READ_WAIT_BITS.is_multiple_of(8) && CHUNK_WORDS <= ola_spec::link::MAX_BURST);

/// [`WordBus`] over an SPI device whose chip select frames each
/// transaction (mode 0, MSB first, as [`ola_spec::link`] specifies).
#[derive(Debug)]
pub struct SpiBus<D> {
    device: D,
}

impl<D: SpiDevice> SpiBus<D> {
    /// The bus over `device`.
    pub fn new(device: D) -> Self {
        SpiBus { device }
    }

    /// The SPI device back.
    pub fn release(self) -> D {
        self.device
    }

    /// The SPI device.
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }
}

/// Command and address words of a transaction, big-endian.
fn header(read: bool, count: usize, address: u32) -> [u8; 8] {
    let mut out = [0; 8];
    out[..4].copy_from_slice(&command(read, count as u16).to_be_bytes());
    out[4..].copy_from_slice(&address.to_be_bytes());
    out
}

impl<D: SpiDevice> WordBus for SpiBus<D> {
    type Error = D::Error;

    fn write(&mut self, address: u32, words: &[u32]) -> Result<(), D::Error> {
        let mut buf = [0u8; 8 + 4 * CHUNK_WORDS];
        for (k, chunk) in words.chunks(CHUNK_WORDS).enumerate() {
            let at = address.wrapping_add((k * CHUNK_WORDS) as u32);
            buf[..8].copy_from_slice(&header(false, chunk.len(), at));
            for (slot, w) in buf[8..].chunks_exact_mut(4).zip(chunk) {
                slot.copy_from_slice(&w.to_be_bytes());
            }
            self.device.write(&buf[..8 + 4 * chunk.len()])?;
        }
        Ok(())
    }

    fn read(&mut self, address: u32, words: &mut [u32]) -> Result<(), D::Error> {
        let mut head = [0u8; 8 + WAIT_BYTES];
        let mut buf = [0u8; 4 * CHUNK_WORDS];
        for (k, chunk) in words.chunks_mut(CHUNK_WORDS).enumerate() {
            let at = address.wrapping_add((k * CHUNK_WORDS) as u32);
            head[..8].copy_from_slice(&header(true, chunk.len(), at));
            let data = &mut buf[..4 * chunk.len()];
            self.device
                .transaction(&mut [Operation::Write(&head), Operation::Read(data)])?;
            for (w, bytes) in chunk.iter_mut().zip(data.chunks_exact(4)) {
                *w = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            }
        }
        Ok(())
    }
}
