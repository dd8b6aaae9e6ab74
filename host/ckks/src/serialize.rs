//! A small, versioned binary format for ciphertexts, plaintexts and keys,
//! so that they can cross a process or a bus. Every blob is
//!
//! ```text
//! magic "OLACKKS\0" | version u16 | kind u8 | params id u64 |
//! kind-specific fields | polynomials | FNV-1a-64 of all previous bytes
//! ```
//!
//! little-endian throughout; a polynomial is `q_limbs u32 | p_limbs u32 |
//! ntt u8 | residues u32 × limbs × N`. Reading checks, in this order, the
//! length, magic, version, kind, checksum, parameter identifier, level and
//! limb counts, and that every residue is below its prime, and names the
//! first failure in [`Error::Corrupt`] or [`Error::ParamsMismatch`]. The
//! checksum detects accidental corruption; it is not an authenticator.

use crate::ciphertext::{Ciphertext, Plaintext, check_id};
use crate::error::{Error, Result};
use crate::keys::{GaloisKey, PublicKey, RelinKey, SecretKey, SwitchingKey};
use crate::ring::{Ring, RnsPoly};

const MAGIC: &[u8; 8] = b"OLACKKS\0";
/// Format version written and accepted.
pub const FORMAT_VERSION: u16 = 1;

/// What a blob holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    Ciphertext = 1,
    Plaintext = 2,
    SecretKey = 3,
    PublicKey = 4,
    RelinKey = 5,
    GaloisKey = 6,
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn new(kind: Kind, params_id: u64) -> Self {
        let mut w = Writer { buf: Vec::new() };
        w.buf.extend_from_slice(MAGIC);
        w.u16(FORMAT_VERSION);
        w.u8(kind as u8);
        w.u64(params_id);
        w
    }
    fn u8(&mut self, x: u8) {
        self.buf.push(x);
    }
    fn u16(&mut self, x: u16) {
        self.buf.extend_from_slice(&x.to_le_bytes());
    }
    fn u32(&mut self, x: u32) {
        self.buf.extend_from_slice(&x.to_le_bytes());
    }
    fn u64(&mut self, x: u64) {
        self.buf.extend_from_slice(&x.to_le_bytes());
    }
    fn poly(&mut self, p: &RnsPoly) {
        self.u32(p.q_limbs() as u32);
        self.u32(p.p_limbs() as u32);
        self.u8(p.is_ntt() as u8);
        self.buf.reserve(p.data().len() * 4);
        for &x in p.data() {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
    }
    fn finish(mut self) -> Vec<u8> {
        let h = fnv1a64(&self.buf);
        self.u64(h);
        self.buf
    }
}

fn corrupt<T>(why: impl Into<String>) -> Result<T> {
    Err(Error::Corrupt(why.into()))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    ring: &'a Ring,
}

impl<'a> Reader<'a> {
    /// Checks the envelope (length, magic, version, kind, checksum,
    /// parameters) and positions after the header.
    fn open(ring: &'a Ring, bytes: &'a [u8], kind: Kind) -> Result<Self> {
        let header = MAGIC.len() + 2 + 1 + 8;
        if bytes.len() < header + 8 {
            return corrupt(format!("{} bytes is too short for a blob", bytes.len()));
        }
        if &bytes[..8] != MAGIC {
            return corrupt("bad magic: not an ola-ckks blob");
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != FORMAT_VERSION {
            return corrupt(format!(
                "format version {version}, this build reads {FORMAT_VERSION}"
            ));
        }
        if bytes[10] != kind as u8 {
            return corrupt(format!(
                "blob holds kind {}, expected {:?}",
                bytes[10], kind
            ));
        }
        let (body, tail) = bytes.split_at(bytes.len() - 8);
        let stored = u64::from_le_bytes(tail.try_into().expect("8 bytes"));
        if fnv1a64(body) != stored {
            return corrupt("checksum mismatch: the blob was altered or truncated");
        }
        let mut r = Reader {
            buf: body,
            pos: 11,
            ring,
        };
        let id = r.u64()?;
        check_id(ring.params().id(), id)?;
        Ok(r)
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return corrupt("unexpected end of blob");
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }
    /// A polynomial with exactly the given shape and domain.
    fn poly(&mut self, q_limbs: usize, p_limbs: usize, ntt: bool) -> Result<RnsPoly> {
        let (q, p, t) = (self.u32()? as usize, self.u32()? as usize, self.u8()?);
        if (q, p, t) != (q_limbs, p_limbs, ntt as u8) {
            return corrupt(format!(
                "polynomial of {q}+{p} limbs (ntt {t}) where {q_limbs}+{p_limbs} (ntt {}) are expected",
                ntt as u8
            ));
        }
        let mut poly = self.ring.zero(q_limbs, p_limbs, ntt);
        let n = poly.n();
        let moduli = self.ring.backend().moduli();
        for i in 0..poly.limbs() {
            let bound = moduli[poly.modulus_index(i)].value();
            let raw = self.take(4 * n)?;
            for (x, b) in poly.limb_mut(i).iter_mut().zip(raw.chunks_exact(4)) {
                *x = u32::from_le_bytes(b.try_into().expect("4"));
                if *x >= bound {
                    return corrupt(format!(
                        "residue {x} of limb {i} is not below its prime {bound}"
                    ));
                }
            }
        }
        Ok(poly)
    }
    fn level(&mut self) -> Result<usize> {
        let level = self.u32()? as usize;
        let max = self.ring.params().max_level();
        if level > max {
            return corrupt(format!("level {level} above the maximum {max}"));
        }
        Ok(level)
    }
    fn scale(&mut self) -> Result<f64> {
        let scale = f64::from_bits(self.u64()?);
        if !(scale.is_finite() && scale >= 1.0) {
            return corrupt(format!("scale {scale} is not a finite number ≥ 1"));
        }
        Ok(scale)
    }
    fn done(self) -> Result<()> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            corrupt(format!("{} trailing bytes", self.buf.len() - self.pos))
        }
    }
}

impl Ciphertext {
    /// Serialises (see the module documentation for the format).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Kind::Ciphertext, self.params_id);
        w.u32(self.level as u32);
        w.u64(self.scale.to_bits());
        w.u8(self.c.len() as u8);
        for c in &self.c {
            w.poly(c);
        }
        w.finish()
    }

    /// Reads a ciphertext of `ring`'s parameter set, checking everything.
    pub fn from_bytes(ring: &Ring, bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(ring, bytes, Kind::Ciphertext)?;
        let level = r.level()?;
        let scale = r.scale()?;
        let count = r.u8()? as usize;
        if !(2..=3).contains(&count) {
            return corrupt(format!("{count} polynomials; a ciphertext has 2 or 3"));
        }
        let limbs = ring.params().limbs_at(level);
        let c = (0..count)
            .map(|_| r.poly(limbs, 0, true))
            .collect::<Result<Vec<_>>>()?;
        r.done()?;
        Ok(Ciphertext {
            c,
            scale,
            level,
            params_id: ring.params().id(),
        })
    }
}

impl Plaintext {
    /// Serialises (see the module documentation for the format).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Kind::Plaintext, self.params_id);
        w.u32(self.level as u32);
        w.u64(self.scale.to_bits());
        w.poly(&self.poly);
        w.finish()
    }

    /// Reads a plaintext of `ring`'s parameter set, checking everything.
    pub fn from_bytes(ring: &Ring, bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(ring, bytes, Kind::Plaintext)?;
        let level = r.level()?;
        let scale = r.scale()?;
        let poly = r.poly(ring.params().limbs_at(level), 0, true)?;
        r.done()?;
        Ok(Plaintext {
            poly,
            scale,
            level,
            params_id: ring.params().id(),
        })
    }
}

fn full_qp(ring: &Ring) -> (usize, usize) {
    (ring.params().q().len(), ring.params().p().len())
}

impl SecretKey {
    /// Serialises the secret (handle the bytes as the secret they are).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Kind::SecretKey, self.params_id);
        w.poly(&self.s);
        w.finish()
    }

    /// Reads a secret key of `ring`'s parameter set.
    pub fn from_bytes(ring: &Ring, bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(ring, bytes, Kind::SecretKey)?;
        let (q, p) = full_qp(ring);
        let s = r.poly(q, p, true)?;
        r.done()?;
        Ok(SecretKey {
            s,
            params_id: ring.params().id(),
        })
    }
}

impl PublicKey {
    /// Serialises (see the module documentation for the format).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Kind::PublicKey, self.params_id);
        w.poly(&self.b);
        w.poly(&self.a);
        w.finish()
    }

    /// Reads a public key of `ring`'s parameter set.
    pub fn from_bytes(ring: &Ring, bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(ring, bytes, Kind::PublicKey)?;
        let (q, p) = full_qp(ring);
        let b = r.poly(q, p, true)?;
        let a = r.poly(q, p, true)?;
        r.done()?;
        Ok(PublicKey {
            b,
            a,
            params_id: ring.params().id(),
        })
    }
}

fn write_switching_key(w: &mut Writer, key: &SwitchingKey) {
    w.u32(key.digits.len() as u32);
    for (b, a) in &key.digits {
        w.poly(b);
        w.poly(a);
    }
}

fn read_switching_key(r: &mut Reader<'_>) -> Result<SwitchingKey> {
    let ring = r.ring;
    let (q, p) = full_qp(ring);
    let digits = r.u32()? as usize;
    let expected = q.div_ceil(ring.params().digit_size());
    if digits != expected {
        return corrupt(format!(
            "{digits} key digits, the parameters need {expected}"
        ));
    }
    let digits = (0..digits)
        .map(|_| Ok((r.poly(q, p, true)?, r.poly(q, p, true)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(SwitchingKey {
        digits,
        params_id: ring.params().id(),
    })
}

impl RelinKey {
    /// Serialises (see the module documentation for the format).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Kind::RelinKey, self.0.params_id);
        write_switching_key(&mut w, &self.0);
        w.finish()
    }

    /// Reads a relinearisation key of `ring`'s parameter set.
    pub fn from_bytes(ring: &Ring, bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(ring, bytes, Kind::RelinKey)?;
        let key = read_switching_key(&mut r)?;
        r.done()?;
        Ok(RelinKey(key))
    }
}

impl GaloisKey {
    /// Serialises (see the module documentation for the format).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Kind::GaloisKey, self.key.params_id);
        w.u64(self.galois_element as u64);
        write_switching_key(&mut w, &self.key);
        w.finish()
    }

    /// Reads a Galois key of `ring`'s parameter set.
    pub fn from_bytes(ring: &Ring, bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(ring, bytes, Kind::GaloisKey)?;
        let g = r.u64()?;
        let two_n = 2 * ring.params().n() as u64;
        if g % 2 == 0 || g >= two_n {
            return corrupt(format!(
                "Galois element {g} is not odd and below 2N = {two_n}"
            ));
        }
        let key = read_switching_key(&mut r)?;
        r.done()?;
        Ok(GaloisKey {
            galois_element: g as usize,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::{C64, Encoder};
    use crate::encryptor::{Decryptor, Encryptor};
    use crate::keys::KeyGenerator;
    use crate::params::{Params, ParamsLiteral};
    use std::sync::Arc;

    fn tiny_ring(levels: usize) -> Arc<Ring> {
        Arc::new(Ring::cpu(
            Params::new_insecure_for_tests(ParamsLiteral {
                log_n: 4,
                base_bits: 30,
                base_limbs: 1,
                limb_bits: 30,
                levels,
                level_primes: 1,
                special_bits: 30,
                special_primes: 1,
                digit_size: 1,
                log_scale: 20,
            })
            .unwrap(),
        ))
    }

    #[test]
    fn round_trips_and_frozen_digest() {
        let ring = tiny_ring(2);
        let mut kg = KeyGenerator::from_seed(ring.clone(), [4; 32]);
        let sk = kg.gen_secret_key();
        let pk = kg.gen_public_key(&sk).unwrap();
        let rlk = kg.gen_relin_key(&sk).unwrap();
        let gk = kg.gen_galois_key(&sk, 5).unwrap();
        let enc = Encoder::new(&ring);
        let pt = enc
            .encode(&ring, &[C64::new(0.5, -0.25)], 2, 2f64.powi(20))
            .unwrap();
        let mut encryptor = Encryptor::from_seed(ring.clone(), pk.clone(), [5; 32]).unwrap();
        let ct = encryptor.encrypt(&pt).unwrap();

        assert_eq!(Ciphertext::from_bytes(&ring, &ct.to_bytes()).unwrap(), ct);
        assert_eq!(Plaintext::from_bytes(&ring, &pt.to_bytes()).unwrap(), pt);
        let sk2 = SecretKey::from_bytes(&ring, &sk.to_bytes()).unwrap();
        assert_eq!(sk2.s, sk.s);
        let pk2 = PublicKey::from_bytes(&ring, &pk.to_bytes()).unwrap();
        assert_eq!((pk2.b, pk2.a), (pk.b.clone(), pk.a.clone()));
        let rlk2 = RelinKey::from_bytes(&ring, &rlk.to_bytes()).unwrap();
        assert_eq!(rlk2.0.digits, rlk.0.digits);
        let gk2 = GaloisKey::from_bytes(&ring, &gk.to_bytes()).unwrap();
        assert_eq!((gk2.galois_element, &gk2.key.digits), (5, &gk.key.digits));
        // The round-tripped secret still decrypts.
        let dec = Decryptor::new(ring.clone(), sk2).unwrap();
        let z = enc.decode(&ring, &dec.decrypt(&ct).unwrap()).unwrap();
        assert!((z[0] - C64::new(0.5, -0.25)).abs() < 1e-3);

        // Frozen format: a plaintext built without randomness has a fixed
        // encoding; a change of layout must change this digest on purpose.
        let fixed = enc.encode(&ring, &[C64::new(1.0, 0.0)], 1, 1024.0).unwrap();
        let bytes = fixed.to_bytes();
        assert_eq!(&bytes[..11], b"OLACKKS\0\x01\x00\x02");
        assert_eq!(bytes.len(), 11 + 8 + 4 + 8 + 9 + 2 * 16 * 4 + 8);
        assert_eq!(fnv1a64(&bytes), FROZEN_PLAINTEXT_DIGEST, "format changed");
    }

    /// FNV-1a-64 of the fixed plaintext blob above (format version 1; the
    /// blob embeds the parameter identifier, so a change of parameters
    /// changes it too).
    const FROZEN_PLAINTEXT_DIGEST: u64 = 0x00a5843c907221ab;

    #[test]
    fn corrupted_blobs_are_refused_with_clear_errors() {
        let ring = tiny_ring(2);
        let mut kg = KeyGenerator::from_seed(ring.clone(), [6; 32]);
        let sk = kg.gen_secret_key();
        let pk = kg.gen_public_key(&sk).unwrap();
        let rlk = kg.gen_relin_key(&sk).unwrap();
        let enc = Encoder::new(&ring);
        let pt = enc.encode(&ring, &[C64::new(0.5, 0.0)], 2, 1e6).unwrap();
        let ct = Encryptor::from_seed(ring.clone(), pk, [7; 32])
            .unwrap()
            .encrypt(&pt)
            .unwrap();
        let good = ct.to_bytes();
        let msg = |r: Result<Ciphertext>| r.unwrap_err().to_string();

        // One flipped bit anywhere: the checksum catches it.
        for pos in [20, 40, good.len() / 2, good.len() - 9] {
            let mut bad = good.clone();
            bad[pos] ^= 0x10;
            assert!(
                msg(Ciphertext::from_bytes(&ring, &bad)).contains("checksum"),
                "byte {pos}"
            );
        }
        // Truncation, wrong magic, wrong version, wrong kind.
        assert!(msg(Ciphertext::from_bytes(&ring, &good[..good.len() - 1])).contains("checksum"));
        assert!(msg(Ciphertext::from_bytes(&ring, &good[..10])).contains("too short"));
        let mut bad = good.clone();
        bad[0] = b'X';
        assert!(msg(Ciphertext::from_bytes(&ring, &bad)).contains("magic"));
        let mut bad = good.clone();
        bad[8] = 9;
        assert!(msg(Ciphertext::from_bytes(&ring, &bad)).contains("version"));
        assert!(matches!(
            RelinKey::from_bytes(&ring, &good),
            Err(Error::Corrupt(_))
        ));
        assert!(matches!(
            Ciphertext::from_bytes(&ring, &rlk.to_bytes()),
            Err(Error::Corrupt(_))
        ));
        // Well-formed blobs with bad content (checksum recomputed): a
        // residue not below its prime, an impossible level.
        let reseal = |mut body: Vec<u8>| {
            body.truncate(body.len() - 8);
            let h = fnv1a64(&body);
            body.extend_from_slice(&h.to_le_bytes());
            body
        };
        let mut bad = good.clone();
        let first_residue = 11 + 8 + 4 + 8 + 1 + 9;
        bad[first_residue..first_residue + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(msg(Ciphertext::from_bytes(&ring, &reseal(bad))).contains("not below its prime"));
        let mut bad = good.clone();
        bad[19..23].copy_from_slice(&7u32.to_le_bytes());
        assert!(msg(Ciphertext::from_bytes(&ring, &reseal(bad))).contains("level 7"));
        // A blob of another parameter set.
        let other = tiny_ring(1);
        assert!(matches!(
            Ciphertext::from_bytes(&other, &good),
            Err(Error::ParamsMismatch { .. })
        ));
    }
}
