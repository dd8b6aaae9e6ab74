//! Arrays of fixed-size items carried as one postcard byte string (a
//! varint length, then the bytes): words of data as 4 little-endian bytes
//! each, jobs as 20 bytes each. Decoding borrows the frame's bytes (no
//! copy, no allocation); encoding reads the caller's slice directly.

use core::fmt;
use core::marker::PhantomData;

use serde::de::{Deserializer, Error as _};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};

/// An item with a fixed little-endian encoding.
pub trait Packed: Copy {
    /// Encoded size in bytes.
    const SIZE: usize;
    /// Writes the encoding into `out` (`out.len() == SIZE`).
    fn pack(&self, out: &mut [u8]);
    /// Reads an item from `bytes` (`bytes.len() == SIZE`).
    fn unpack(bytes: &[u8]) -> Self;
}

impl Packed for u32 {
    const SIZE: usize = 4;
    fn pack(&self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }
    fn unpack(bytes: &[u8]) -> Self {
        u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }
}

/// A borrowed array of [`Packed`] items: either the items themselves (to
/// encode) or their encoding (as decoded from a frame).
#[derive(Clone, Copy)]
pub struct PackedSlice<'a, T> {
    repr: Repr<'a, T>,
}

#[derive(Clone, Copy)]
enum Repr<'a, T> {
    Items(&'a [T]),
    Bytes(&'a [u8], PhantomData<T>),
}

/// Data words (4 little-endian bytes each).
pub type Words<'a> = PackedSlice<'a, u32>;

impl<'a, T: Packed> PackedSlice<'a, T> {
    /// Wraps items to send.
    pub fn new(items: &'a [T]) -> Self {
        PackedSlice {
            repr: Repr::Items(items),
        }
    }

    /// Wraps an encoding; `None` unless its length is a multiple of the
    /// item size.
    pub fn from_bytes(bytes: &'a [u8]) -> Option<Self> {
        bytes.len().is_multiple_of(T::SIZE).then_some(PackedSlice {
            repr: Repr::Bytes(bytes, PhantomData),
        })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        match self.repr {
            Repr::Items(items) => items.len(),
            Repr::Bytes(bytes, _) => bytes.len() / T::SIZE,
        }
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `i`, if `i < len`.
    pub fn get(&self, i: usize) -> Option<T> {
        match self.repr {
            Repr::Items(items) => items.get(i).copied(),
            Repr::Bytes(bytes, _) => bytes.get(i * T::SIZE..(i + 1) * T::SIZE).map(T::unpack),
        }
    }

    /// The items in order.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }

    /// Copies the items into the front of `out`; returns how many (all of
    /// them, or as many as fit).
    pub fn copy_to(&self, out: &mut [T]) -> usize {
        let mut n = 0;
        for (slot, item) in out.iter_mut().zip(self.iter()) {
            *slot = item;
            n += 1;
        }
        n
    }

    /// The items in a vector.
    #[cfg(feature = "std")]
    pub fn to_vec(&self) -> std::vec::Vec<T> {
        self.iter().collect()
    }
}

impl<T: Packed + fmt::Debug> fmt::Debug for PackedSlice<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Packed + PartialEq> PartialEq for PackedSlice<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: Packed + Eq> Eq for PackedSlice<'_, T> {}

impl<T: Packed> Serialize for PackedSlice<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.repr {
            Repr::Bytes(bytes, _) => serializer.serialize_bytes(bytes),
            Repr::Items(items) => {
                // postcard writes a byte string as a varint length and the
                // raw bytes; a tuple of (length, bytes…) is the same on the
                // wire, without a contiguous byte copy of the items.
                let bytes = items.len() * T::SIZE;
                let mut tuple = serializer.serialize_tuple(bytes + 1)?;
                tuple.serialize_element(&bytes)?;
                let mut buf = [0u8; 32];
                for item in items {
                    item.pack(&mut buf[..T::SIZE]);
                    for b in &buf[..T::SIZE] {
                        tuple.serialize_element(b)?;
                    }
                }
                tuple.end()
            }
        }
    }
}

impl<'de: 'a, 'a, T: Packed> Deserialize<'de> for PackedSlice<'a, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = <&'de [u8]>::deserialize(deserializer)?;
        PackedSlice::from_bytes(bytes)
            .ok_or_else(|| D::Error::invalid_length(bytes.len(), &"a whole number of items"))
    }
}
