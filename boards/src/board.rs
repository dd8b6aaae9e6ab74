//! Board definitions: which FPGA, which pins carry the SPI link from the
//! firmware's CPU, which clock feeds the PLL, and the constraint files the
//! place-and-route tools read.

use std::fmt::Write as _;

/// An FPGA family and part, as the place-and-route tool names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fpga {
    /// Lattice ECP5 (`nextpnr-ecp5 --<size> --package <package>`).
    Ecp5 {
        /// Device size flag: `25k`, `45k`, `85k`, `um5g-85k`, ….
        size: &'static str,
        /// Package name, e.g. `CABGA381`.
        package: &'static str,
        /// Speed grade (6, 7 or 8).
        speed: u8,
    },
    /// Lattice iCE40 (`nextpnr-ice40 --<device> --package <package>`).
    Ice40 {
        /// Device flag: `hx8k`, `up5k`, ….
        device: &'static str,
        /// Package name, e.g. `ct256`.
        package: &'static str,
    },
}

/// One top-level port on one package pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pin {
    /// Port name of the board's top module.
    pub port: &'static str,
    /// Package site (ball or pin name).
    pub site: &'static str,
    /// What the pin is wired to, for the wiring table.
    pub wiring: &'static str,
}

/// A board the accelerator can be built for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Board {
    /// Name used on the command line.
    pub name: &'static str,
    /// One line for listings.
    pub description: &'static str,
    /// The FPGA.
    pub fpga: Fpga,
    /// The oscillator input.
    pub clock: Pin,
    /// Oscillator frequency (MHz).
    pub clock_mhz: f64,
    /// SPI link pins in the order sck, mosi, miso, cs_n.
    pub link: [Pin; 4],
    /// Output high while a job runs (an LED and the CPU's interrupt line).
    pub busy: Pin,
    /// Output high once the PLL has locked.
    pub locked: Pin,
    /// Whether the pin sites are the board's real wiring (false: a fit
    /// check only, pins left to the placer).
    pub pinned: bool,
}

/// ULX3S (LFE5U-85F, CABGA381, 25 MHz oscillator). The link uses the first
/// four single-ended pins of header J1 (GP0..GP3), LED 0 shows `busy`,
/// LED 7 the PLL lock. Sites from the board's published constraint file.
pub const ULX3S_85F: Board = Board {
    name: "ulx3s-85f",
    description: "Radiona ULX3S with LFE5U-85F (CABGA381), SPI link on header J1",
    fpga: Fpga::Ecp5 {
        size: "85k",
        package: "CABGA381",
        speed: 6,
    },
    clock: Pin {
        port: "clk_25mhz",
        site: "G2",
        wiring: "25 MHz oscillator",
    },
    clock_mhz: 25.0,
    link: [
        Pin {
            port: "sck",
            site: "B11",
            wiring: "J1 pin 5 (GP0) ← CPU SPI SCK",
        },
        Pin {
            port: "mosi",
            site: "A10",
            wiring: "J1 pin 7 (GP1) ← CPU SPI TX (MOSI)",
        },
        Pin {
            port: "miso",
            site: "A9",
            wiring: "J1 pin 9 (GP2) → CPU SPI RX (MISO)",
        },
        Pin {
            port: "cs_n",
            site: "B9",
            wiring: "J1 pin 11 (GP3) ← CPU chip select (active low)",
        },
    ],
    busy: Pin {
        port: "busy",
        site: "B2",
        wiring: "LED 0, and the CPU's busy input",
    },
    locked: Pin {
        port: "pll_locked",
        site: "H3",
        wiring: "LED 7",
    },
    pinned: true,
};

/// iCE40-HX8K (CT256) fit check: pins left to the placer. Used to answer
/// whether a reduced configuration fits the largest common iCE40.
pub const ICE40_HX8K: Board = Board {
    name: "ice40-hx8k",
    description: "iCE40-HX8K (CT256), fit check only (pins unassigned)",
    fpga: Fpga::Ice40 {
        device: "hx8k",
        package: "ct256",
    },
    clock: Pin {
        port: "clk_12mhz",
        site: "J3",
        wiring: "12 MHz oscillator",
    },
    clock_mhz: 12.0,
    link: [
        Pin {
            port: "sck",
            site: "",
            wiring: "",
        },
        Pin {
            port: "mosi",
            site: "",
            wiring: "",
        },
        Pin {
            port: "miso",
            site: "",
            wiring: "",
        },
        Pin {
            port: "cs_n",
            site: "",
            wiring: "",
        },
    ],
    busy: Pin {
        port: "busy",
        site: "",
        wiring: "",
    },
    locked: Pin {
        port: "pll_locked",
        site: "",
        wiring: "",
    },
    pinned: false,
};

/// Every board.
pub const BOARDS: &[Board] = &[ULX3S_85F, ICE40_HX8K];

impl Board {
    /// The board called `name`.
    pub fn named(name: &str) -> Option<Board> {
        BOARDS.iter().copied().find(|b| b.name == name)
    }

    /// Every pin of the top module.
    pub fn pins(&self) -> Vec<Pin> {
        let mut pins = vec![self.clock];
        pins.extend(self.link);
        pins.push(self.busy);
        pins.push(self.locked);
        pins
    }

    /// The ECP5 constraint file (LPF): sites, 3.3 V LVCMOS, and the
    /// oscillator's frequency (the PLL's output constraint follows from it).
    pub fn lpf(&self) -> String {
        let mut lpf = String::from("BLOCK RESETPATHS;\nBLOCK ASYNCPATHS;\n");
        for pin in self.pins().iter().filter(|p| !p.site.is_empty()) {
            let _ = writeln!(lpf, "LOCATE COMP \"{}\" SITE \"{}\";", pin.port, pin.site);
            let _ = writeln!(lpf, "IOBUF PORT \"{}\" IO_TYPE=LVCMOS33;", pin.port);
        }
        let _ = writeln!(
            lpf,
            "FREQUENCY PORT \"{}\" {} MHZ;",
            self.clock.port, self.clock_mhz
        );
        lpf
    }

    /// The board's top module: oscillator → PLL → accelerator clock, and the
    /// SPI-attached accelerator (module `top`, as `ola-hdl` emits it) on
    /// the link pins. `pll_module` is the PLL's module name with ports
    /// `clkin`, `clkout0`, `locked`.
    pub fn top_verilog(&self, pll_module: &str) -> String {
        let [sck, mosi, miso, cs_n] = self.link;
        format!(
            "// Generated by ola-boards for {name}: do not edit.\n\
             module ola_board (\n\
             \x20   input  wire {clk},\n\
             \x20   input  wire {sck},\n\
             \x20   input  wire {mosi},\n\
             \x20   output wire {miso},\n\
             \x20   input  wire {cs_n},\n\
             \x20   output wire {busy},\n\
             \x20   output wire {locked}\n\
             );\n\
             \x20   wire clock;\n\
             \x20   {pll_module} pll (.clkin({clk}), .clkout0(clock), .locked({locked}));\n\
             \x20   top core (\n\
             \x20       .clock(clock), .sck({sck}), .mosi({mosi}), .cs_n({cs_n}),\n\
             \x20       .miso({miso}), .busy({busy})\n\
             \x20   );\n\
             endmodule\n",
            name = self.name,
            clk = self.clock.port,
            sck = sck.port,
            mosi = mosi.port,
            miso = miso.port,
            cs_n = cs_n.port,
            busy = self.busy.port,
            locked = self.locked.port,
        )
    }

    /// A Markdown wiring table of the pinned ports.
    pub fn wiring_table(&self) -> String {
        let mut table = String::from("| port | site | wiring |\n|---|---|---|\n");
        for pin in self.pins().iter().filter(|p| !p.site.is_empty()) {
            let _ = writeln!(table, "| `{}` | {} | {} |", pin.port, pin.site, pin.wiring);
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pinned_board_constrains_every_port_once() {
        for board in BOARDS.iter().filter(|b| b.pinned) {
            let lpf = board.lpf();
            let mut sites = std::collections::HashSet::new();
            for pin in board.pins() {
                assert!(
                    !pin.site.is_empty(),
                    "{}: {} unpinned",
                    board.name,
                    pin.port
                );
                assert!(
                    sites.insert(pin.site),
                    "{}: site {} reused",
                    board.name,
                    pin.site
                );
                assert_eq!(
                    lpf.matches(&format!("LOCATE COMP \"{}\"", pin.port))
                        .count(),
                    1
                );
            }
            assert!(lpf.contains(&format!("FREQUENCY PORT \"{}\"", board.clock.port)));
        }
    }

    #[test]
    fn top_module_connects_every_pin() {
        let text = ULX3S_85F.top_verilog("ola_pll");
        for pin in ULX3S_85F.pins() {
            assert!(
                text.matches(pin.port).count() >= 2,
                "{} declared and connected",
                pin.port
            );
        }
        assert!(text.contains("ola_pll pll"));
    }

    #[test]
    fn lookup_by_name() {
        assert_eq!(Board::named("ulx3s-85f"), Some(ULX3S_85F));
        assert_eq!(Board::named("nope"), None);
    }
}
