//! The RP2040 board binary (`firmware/board`, its own cargo workspace)
//! builds in release for `thumbv6m-none-eabi` and fits its size budget.
//!
//! Budget (stated in `firmware/board/README.md`): flash image (every
//! allocated section with contents, `.data`'s load image included)
//! ≤ 64 KiB of the 2 MiB flash; static RAM (`.data` + `.bss` + `.uninit`)
//! ≤ 64 KiB of the 264 KiB SRAM, leaving the rest to the stack.
//!
//! Without the target installed the test skips with a message — unless
//! `CI` is set, where a missing target is a broken CI script and fails.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "thumbv6m-none-eabi";
const FLASH_BUDGET: u64 = 64 * 1024;
const RAM_BUDGET: u64 = 64 * 1024;
/// Where the RP2040's boot ROM expects the second-stage bootloader, and the
/// application's vector table right after its 256 bytes.
const BOOT2_ADDR: u64 = 0x1000_0000;
const VECTOR_TABLE_ADDR: u64 = 0x1000_0100;

#[test]
fn board_binary_builds_and_fits_its_budget() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    if !target_installed() {
        let msg = format!(
            "the {TARGET} target is not installed (`rustup target add {TARGET}`): \
             the board binary was not built"
        );
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("SKIPPED: {msg}");
        return;
    }
    let board = root.join("firmware/board");
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("firmware-board");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&board)
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(board.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir)
        // The outer test build's flags are for the host, not the board.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("run cargo");
    assert!(
        status.success(),
        "cargo build of firmware/board failed: {status}"
    );

    let elf_path = target_dir.join(TARGET).join("release/ola-board-rp2040");
    let elf =
        std::fs::read(&elf_path).unwrap_or_else(|e| panic!("read {}: {e}", elf_path.display()));
    let sections = sections(&elf).expect("a 32-bit little-endian ARM ELF");

    let find = |name: &str| sections.iter().find(|s| s.name == name);
    let boot2 = find(".boot2").expect("a .boot2 section");
    assert_eq!(
        (boot2.addr, boot2.size),
        (BOOT2_ADDR, 256),
        "boot2 must fill the flash's first 256 bytes"
    );
    let vectors = find(".vector_table").expect("a .vector_table section");
    assert_eq!(
        vectors.addr, VECTOR_TABLE_ADDR,
        "the vector table must follow boot2"
    );

    let flash: u64 = sections
        .iter()
        .filter(|s| s.alloc && s.progbits)
        .map(|s| s.size)
        .sum();
    let ram: u64 = sections
        .iter()
        .filter(|s| s.alloc && s.write)
        .map(|s| s.size)
        .sum();
    eprintln!(
        "firmware/board: flash {flash} B (budget {FLASH_BUDGET}), static RAM {ram} B (budget {RAM_BUDGET})"
    );
    for s in sections.iter().filter(|s| s.alloc) {
        eprintln!("  {:<16} {:>8} B at {:#010x}", s.name, s.size, s.addr);
    }
    assert!(
        flash <= FLASH_BUDGET,
        "flash image {flash} B exceeds the {FLASH_BUDGET} B budget"
    );
    assert!(
        ram <= RAM_BUDGET,
        "static RAM {ram} B exceeds the {RAM_BUDGET} B budget"
    );
    // The firmware is more than a reset handler: the server and driver link in.
    let text = find(".text").expect("a .text section");
    assert!(
        text.size > 1024,
        ".text is only {} B: the firmware did not link in",
        text.size
    );
}

/// Whether the standard library for [`TARGET`] is in the toolchain's sysroot.
fn target_installed() -> bool {
    let out = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .args(["--print", "sysroot"])
        .output();
    let Ok(out) = out else { return false };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(TARGET)
        .join("lib")
        .is_dir()
}

struct Section {
    name: String,
    addr: u64,
    size: u64,
    /// SHF_ALLOC: occupies memory on the device.
    alloc: bool,
    /// SHF_WRITE: lives in RAM.
    write: bool,
    /// SHT_PROGBITS: has contents, so it is stored in flash.
    progbits: bool,
}

/// The section headers of a 32-bit little-endian ARM ELF file; `None` if it
/// is not one or is truncated.
fn sections(elf: &[u8]) -> Option<Vec<Section>> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(elf.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(elf.get(o..o + 4)?.try_into().ok()?));
    // Magic, ELFCLASS32, ELFDATA2LSB, EM_ARM.
    if elf.get(..6)? != b"\x7fELF\x01\x01" || u16_at(18)? != 40 {
        return None;
    }
    let shoff = u32_at(32)? as usize;
    let shentsize = u16_at(46)? as usize;
    let shnum = u16_at(48)? as usize;
    let shstrndx = u16_at(50)? as usize;
    let header = |i: usize| shoff + i * shentsize;
    let strtab = u32_at(header(shstrndx) + 16)? as usize;
    let mut out = Vec::with_capacity(shnum);
    for i in 0..shnum {
        let h = header(i);
        let name_off = strtab + u32_at(h)? as usize;
        let name_len = elf.get(name_off..)?.iter().position(|&b| b == 0)?;
        let (ty, flags) = (u32_at(h + 4)?, u32_at(h + 8)?);
        out.push(Section {
            name: String::from_utf8_lossy(&elf[name_off..name_off + name_len]).into_owned(),
            addr: u32_at(h + 12)? as u64,
            size: u32_at(h + 20)? as u64,
            alloc: flags & 0x2 != 0,
            write: flags & 0x1 != 0,
            progbits: ty == 1,
        });
    }
    Some(out)
}
