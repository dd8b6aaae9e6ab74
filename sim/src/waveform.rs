//! An optional VCD of the bus-visible signals, for GTKWave.
//!
//! [`Recorder`] wraps any [`BusModel`] (the simulator, or the RTL) and
//! writes one clock period per cycle: inputs and outputs change at the
//! falling edge, as the testbenches apply them. Signals only appear when
//! they change, so long idle stretches stay small.

use std::io::{self, Write};

use ola_spec::{BusInputs, BusModel, BusOutputs};
use vcd::{IdCode, TimescaleUnit, Value, Writer};

/// Wraps a bus model and writes its bus as a VCD.
pub struct Recorder<M: BusModel, W: Write> {
    model: M,
    writer: Writer<W>,
    ids: [IdCode; 7],
    last: Option<[u64; 6]>,
    cycle: u64,
}

const SIGNALS: [(&str, u32); 7] = [
    ("clock", 1),
    ("bus_address", 32),
    ("bus_write_data", 32),
    ("bus_write", 1),
    ("bus_read", 1),
    ("bus_read_data", 32),
    ("busy", 1),
];

fn bits(value: u64, width: u32) -> Vec<Value> {
    (0..width)
        .rev()
        .map(|i| {
            if (value >> i) & 1 == 1 {
                Value::V1
            } else {
                Value::V0
            }
        })
        .collect()
}

impl<M: BusModel, W: Write> Recorder<M, W> {
    /// Starts a VCD (10 ns clock period) on `out`.
    pub fn new(model: M, out: W) -> io::Result<Self> {
        let mut writer = Writer::new(out);
        writer.timescale(1, TimescaleUnit::NS)?;
        writer.add_module("accelerator")?;
        let mut ids = Vec::with_capacity(SIGNALS.len());
        for (name, width) in SIGNALS {
            ids.push(writer.add_wire(width, name)?);
        }
        writer.upscope()?;
        writer.enddefinitions()?;
        Ok(Recorder {
            model,
            writer,
            ids: ids.try_into().expect("one id per signal"),
            last: None,
            cycle: 0,
        })
    }

    /// The wrapped model.
    pub fn model(&mut self) -> &mut M {
        &mut self.model
    }

    /// Writes the final timestamp and returns the model; the output is
    /// complete once the writer `W` is dropped (or flushed by its owner).
    pub fn finish(mut self) -> io::Result<M> {
        self.writer.timestamp(self.cycle * 10)?;
        Ok(self.model)
    }

    fn record(&mut self, inputs: &BusInputs, outputs: &BusOutputs) -> io::Result<()> {
        let now = [
            inputs.address as u64,
            inputs.write_data as u64,
            inputs.write as u64,
            inputs.read as u64,
            outputs.read_data as u64,
            outputs.busy as u64,
        ];
        let time = self.cycle * 10;
        self.writer.timestamp(time)?;
        self.writer.change_scalar(self.ids[0], Value::V0)?;
        for (i, &value) in now.iter().enumerate() {
            if self.last.is_none_or(|last| last[i] != value) {
                let (_, width) = SIGNALS[i + 1];
                if width == 1 {
                    self.writer.change_scalar(
                        self.ids[i + 1],
                        if value == 1 { Value::V1 } else { Value::V0 },
                    )?;
                } else {
                    self.writer
                        .change_vector(self.ids[i + 1], &bits(value, width))?;
                }
            }
        }
        self.writer.timestamp(time + 5)?;
        self.writer.change_scalar(self.ids[0], Value::V1)?;
        self.last = Some(now);
        self.cycle += 1;
        Ok(())
    }
}

impl<M: BusModel, W: Write> BusModel for Recorder<M, W> {
    fn cycle(&mut self, inputs: &BusInputs) -> BusOutputs {
        let outputs = self.model.cycle(inputs);
        // A waveform that cannot be written must not change the simulation.
        let _ = self.record(inputs, &outputs);
        outputs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Device;
    use ola_spec::config::Config;
    use ola_spec::map;

    #[test]
    fn vcd_parses_back_with_the_bus_values() {
        let config = Config::named("tiny").unwrap();
        let mut bytes = Vec::new();
        let mut recorder = Recorder::new(Device::new(config), &mut bytes).unwrap();
        let mut steps = vec![
            BusInputs {
                address: map::DATA | 3,
                write_data: 0xABCD,
                write: true,
                read: false,
            },
            BusInputs {
                address: map::DATA | 3,
                read: true,
                ..Default::default()
            },
        ];
        steps.extend([BusInputs::default(); ola_spec::BUS_READ_LATENCY]);
        let outputs: Vec<BusOutputs> = steps.iter().map(|s| recorder.cycle(s)).collect();
        // The read of cycle 1 answers BUS_READ_LATENCY cycles later.
        let answer = 1 + ola_spec::BUS_READ_LATENCY;
        assert_eq!(outputs[answer].read_data, 0xABCD);
        recorder.finish().unwrap();
        let mut parser = vcd::Parser::new(&bytes[..]);
        let header = parser.parse_header().unwrap();
        let read_data = header
            .find_var(&["accelerator", "bus_read_data"])
            .unwrap()
            .code;
        let mut time = 0;
        let mut seen = Vec::new();
        for command in parser {
            match command.unwrap() {
                vcd::Command::Timestamp(t) => time = t,
                vcd::Command::ChangeVector(id, v) if id == read_data => {
                    let value = v
                        .iter()
                        .fold(0u64, |acc, b| acc * 2 + (*b == Value::V1) as u64);
                    seen.push((time, value));
                }
                _ => {}
            }
        }
        assert_eq!(seen, vec![(0, 0), (10 * answer as u64, 0xABCD)]);
    }
}
