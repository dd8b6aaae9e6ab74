//! Round-trip latency and throughput of small and 4 KiB frames over the
//! pty and in-process transports: raw echo (the transport alone), and
//! full requests to a simulated board (framing, firmware, simulator
//! included), with what the same request costs on the board in simulated
//! time. `cargo bench -p ola-device --bench link`.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use ola_device::sim::{SimBoard, SimBoardConfig, SimTime};
use ola_device::{Device, DeviceConfig, SerialTransport, Transport, channel_pair};
use serialport::TTYPort;

const SMALL: usize = 16;
const LARGE: usize = 4096;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

/// Sends `len` bytes and waits for all of them to come back.
fn echo_round_trip(t: &mut dyn Transport, frame: &[u8], buf: &mut [u8]) -> Duration {
    let start = Instant::now();
    t.send(frame).unwrap();
    let mut got = 0;
    while got < frame.len() {
        got += t.recv(&mut buf[got..], Duration::from_secs(1)).unwrap();
    }
    start.elapsed()
}

fn echo_thread<P: Read + Write + Send + 'static>(mut port: P) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match port.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if port
                        .write_all(&buf[..n])
                        .and_then(|()| port.flush())
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                Err(_) => return,
            }
        }
    });
}

fn echo_transport(pty: bool) -> Box<dyn Transport> {
    if pty {
        let (host, mut dev) = TTYPort::pair().unwrap();
        serialport::SerialPort::set_timeout(&mut dev, Duration::from_secs(3600)).unwrap();
        echo_thread(dev);
        Box::new(SerialTransport::new(host))
    } else {
        let (host, dev) = channel_pair();
        echo_thread(dev);
        Box::new(host)
    }
}

struct Row {
    what: String,
    median: Duration,
    bytes: usize,
    board: Option<SimTime>,
}

fn measure_echo(pty: bool, len: usize, iters: usize) -> Row {
    let mut t = echo_transport(pty);
    let frame: Vec<u8> = (0..len).map(|i| (i % 255) as u8 + 1).collect();
    let mut buf = vec![0u8; len];
    for _ in 0..iters / 10 {
        echo_round_trip(&mut *t, &frame, &mut buf);
    }
    let times = (0..iters)
        .map(|_| echo_round_trip(&mut *t, &frame, &mut buf))
        .collect();
    Row {
        what: format!("{} echo, {len} B", if pty { "pty" } else { "channel" }),
        median: median(times),
        bytes: 2 * len,
        board: None,
    }
}

fn board_device(pty: bool) -> (Device, SimBoard) {
    let config = DeviceConfig::default();
    if pty {
        let (t, b) = SimBoard::pty(SimBoardConfig::default()).unwrap();
        (Device::new(t, config).with_clock(b.clock()), b)
    } else {
        let (t, b) = SimBoard::channel(SimBoardConfig::default()).unwrap();
        (Device::new(t, config).with_clock(b.clock()), b)
    }
}

fn measure_device(pty: bool, what: &str, iters: usize, mut op: impl FnMut(&mut Device)) -> Row {
    let (mut dev, board) = board_device(pty);
    for _ in 0..iters / 10 {
        op(&mut dev);
    }
    let (bytes0, sim0) = (dev.stats().link_bytes, board.clock().now());
    let times = (0..iters)
        .map(|_| {
            let start = Instant::now();
            op(&mut dev);
            start.elapsed()
        })
        .collect();
    let sim = board.clock().now().since(&sim0);
    let per = |x: u64| x / iters as u64;
    Row {
        what: format!("{} device, {what}", if pty { "pty" } else { "channel" }),
        median: median(times),
        bytes: ((dev.stats().link_bytes - bytes0) / iters as u64) as usize,
        board: Some(SimTime {
            link_bytes: per(sim.link_bytes),
            baud: sim.baud,
            spi_cycles: per(sim.spi_cycles),
            accel_cycles: per(sim.accel_cycles),
        }),
    }
}

/// One forward NTT of N = 4096 from host data to host data, as a board
/// would run it: where the time goes.
fn ntt_breakdown() {
    use ola_device::Job;
    use ola_spec::JobOp;
    let (mut dev, board) = board_device(false);
    let q = ola_arith::prime::ntt_primes(30, 12).next().unwrap() as u32;
    dev.load_moduli(0, &[q]).unwrap();
    let input: Vec<u32> = (0..4096u32)
        .map(|i| i.wrapping_mul(2_654_435_761) % q)
        .collect();
    let ((), cost) = dev
        .measure(|d| {
            d.write_buffer(0, &input)?;
            d.run_job(Job::new(JobOp::Ntt, 12, 0, 0, 0))?;
            d.read_buffer_new(0, 4096).map(drop)
        })
        .unwrap();
    let (sim, jobs) = (cost.sim.unwrap(), cost.job_cycles);
    drop(board);
    println!();
    println!("NTT N = 4096 from host data to host data (9 requests):");
    println!("| part | simulated board time |");
    println!("|---|---|");
    println!(
        "| accelerator compute ({jobs} cycles) | {:.1} µs |",
        jobs as f64 / 125.0
    );
    println!(
        "| SPI data movement ({} cycles) | {:.1} µs |",
        sim.spi_cycles,
        sim.spi_seconds() * 1e6
    );
    println!(
        "| host link ({} bytes at {} baud) | {:.1} µs |",
        sim.link_bytes,
        sim.baud,
        sim.link_seconds() * 1e6
    );
}

fn main() {
    let mut rows = Vec::new();
    for pty in [false, true] {
        rows.push(measure_echo(pty, SMALL, 5000));
        rows.push(measure_echo(pty, LARGE, 2000));
        rows.push(measure_device(pty, "ping", 3000, |d| d.ping().unwrap()));
        let words: Vec<u32> = (0..1024).collect();
        rows.push(measure_device(pty, "write 4 KiB", 300, |d| {
            d.write_buffer(0, &words).unwrap()
        }));
        let mut out = vec![0u32; 1024];
        rows.push(measure_device(pty, "read 4 KiB", 300, |d| {
            d.read_buffer(0, &mut out).unwrap()
        }));
    }
    println!(
        "| what | median round trip | bytes on the link | throughput | on the board (simulated): link + SPI |"
    );
    println!("|---|---|---|---|---|");
    for r in rows {
        let mb_s = r.bytes as f64 / r.median.as_secs_f64() / 1e6;
        let board = r.board.map_or("—".to_string(), |t| {
            format!(
                "{:.1} µs + {:.1} µs",
                t.link_seconds() * 1e6,
                t.spi_seconds() * 1e6
            )
        });
        println!(
            "| {} | {:.1} µs | {} | {:.1} MB/s | {} |",
            r.what,
            r.median.as_secs_f64() * 1e6,
            r.bytes,
            mb_s,
            board
        );
    }
    ntt_breakdown();
}
