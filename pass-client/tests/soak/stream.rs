//! The seeded byte streams a session relays: byte `i` of stream `seed` is a pure
//! function of both, so either end can check any chunk at any offset, whatever the
//! chunking the sockets chose.

/// splitmix64: one well-mixed word from any word.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of one direction of one session of a run.
pub fn seed(run: u64, session: u64, direction: u8) -> u64 {
    mix(mix(run ^ mix(session)) ^ u64::from(direction))
}

/// Fills `buf` with the stream's bytes from `offset` on.
pub fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    for (i, b) in (offset..).zip(buf.iter_mut()) {
        let word = mix(seed ^ mix(i >> 3));
        *b = word.to_le_bytes()[(i & 7) as usize];
    }
}

/// The offset of the first byte of `got` (read at `offset`) that differs from the
/// stream, if any.
pub fn first_mismatch(seed: u64, offset: u64, got: &[u8]) -> Option<u64> {
    let mut want = vec![0; got.len()];
    fill(seed, offset, &mut want);
    got.iter()
        .zip(&want)
        .position(|(g, w)| g != w)
        .map(|k| offset + k as u64)
}

/// Writes `len` bytes of stream `seed` to `w`, waiting `pace` after each chunk.
pub async fn send<W: tokio::io::AsyncWrite + Unpin>(
    w: &mut W,
    seed: u64,
    len: u32,
    pace: std::time::Duration,
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let mut buf = vec![0; CHUNK];
    let mut sent = 0u64;
    while sent < u64::from(len) {
        let n = CHUNK.min((u64::from(len) - sent) as usize);
        fill(seed, sent, &mut buf[..n]);
        w.write_all(&buf[..n]).await?;
        sent += n as u64;
        if !pace.is_zero() {
            tokio::time::sleep(pace).await;
        }
    }
    Ok(())
}

/// A chunk of stream, each way.
pub const CHUNK: usize = 16 * 1024;

/// The receiving end of a stream of known length: takes what arrives, in order.
pub struct Check {
    seed: u64,
    len: u64,
    /// Bytes taken so far, all matching.
    pub received: u64,
}

impl Check {
    pub fn new(seed: u64, len: u32) -> Check {
        Check {
            seed,
            len: u64::from(len),
            received: 0,
        }
    }

    /// Takes the next bytes; on a mismatch or a byte past the end, its offset.
    pub fn take(&mut self, got: &[u8]) -> Result<(), u64> {
        if self.received + got.len() as u64 > self.len {
            return Err(self.len);
        }
        if let Some(at) = first_mismatch(self.seed, self.received, got) {
            return Err(at);
        }
        self.received += got.len() as u64;
        Ok(())
    }

    /// Every byte arrived.
    pub fn whole(&self) -> bool {
        self.received == self.len
    }
}

/// What the service sends after the downstream once the whole upstream (`up` bytes)
/// has arrived: only then does the caller know its bytes got there.
pub fn ack(up: u32) -> [u8; ACK_LEN] {
    let mut b = [0; ACK_LEN];
    b[..4].copy_from_slice(b"ACK ");
    b[4..].copy_from_slice(&up.to_be_bytes());
    b
}

/// The length of [`ack`].
pub const ACK_LEN: usize = 8;

/// What a caller sends first: which session, and how many bytes each way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub session: u64,
    pub up: u32,
    pub down: u32,
}

impl Header {
    pub const LEN: usize = 20;
    const MAGIC: u32 = 0x5041_5353; // "PASS"

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0; Self::LEN];
        b[..4].copy_from_slice(&Self::MAGIC.to_be_bytes());
        b[4..12].copy_from_slice(&self.session.to_be_bytes());
        b[12..16].copy_from_slice(&self.up.to_be_bytes());
        b[16..20].copy_from_slice(&self.down.to_be_bytes());
        b
    }

    pub fn decode(b: &[u8; Self::LEN]) -> Option<Header> {
        if u32::from_be_bytes(b[0..4].try_into().ok()?) != Self::MAGIC {
            return None;
        }
        Some(Header {
            session: u64::from_be_bytes(b[4..12].try_into().ok()?),
            up: u32::from_be_bytes(b[12..16].try_into().ok()?),
            down: u32::from_be_bytes(b[16..20].try_into().ok()?),
        })
    }
}

#[test]
fn any_chunking_gives_the_same_stream_and_a_flipped_byte_is_found() {
    let mut whole = vec![0; 1000];
    fill(7, 0, &mut whole);
    let mut parts = vec![0; 1000];
    fill(7, 0, &mut parts[..333]);
    fill(7, 333, &mut parts[333..]);
    assert_eq!(whole, parts);
    assert_eq!(first_mismatch(7, 0, &whole), None);
    whole[500] ^= 1;
    assert_eq!(first_mismatch(7, 0, &whole), Some(500));
    assert_ne!(seed(1, 2, 0), seed(1, 2, 1));
    let mut check = Check::new(7, 1000);
    assert_eq!(check.take(&parts[..600]), Ok(()));
    assert!(!check.whole());
    assert_eq!(check.take(&whole[600..]), Ok(()), "after the flipped byte");
    assert!(check.whole());
    assert_eq!(check.take(&[0]), Err(1000), "a byte past the end");
    let mut check = Check::new(7, 1000);
    assert_eq!(check.take(&whole), Err(500));
    let h = Header {
        session: 9,
        up: 10,
        down: 11,
    };
    assert_eq!(Header::decode(&h.encode()), Some(h));
}
