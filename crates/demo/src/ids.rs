//! IDs of a run. Every trace, span and execution ID derives from the run
//! id through a mixing function, so a run is reproducible (the same run id
//! gives the same requests) and two runs never collide.

/// A run id no other run of this or another process is likely to have.
pub fn fresh_run_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = u64::from(std::process::id());
    mix(mix(loupe_model::time::now_ns() ^ pid.rotate_left(40)) ^ n)
}

/// splitmix64's finalizer: a good 64-bit mix, so consecutive inputs give
/// unrelated outputs.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// IDs of one run: every call gives a new one, all derived from the run id.
pub(crate) struct Ids {
    run: u64,
    n: u64,
}

impl Ids {
    pub(crate) fn new(run: u64) -> Ids {
        Ids { run, n: 0 }
    }

    fn next(&mut self) -> u64 {
        self.n += 1;
        mix(self.run ^ mix(self.n))
    }

    pub(crate) fn trace(&mut self) -> [u8; 16] {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.next().to_be_bytes());
        id[8..].copy_from_slice(&self.next().to_be_bytes());
        if id == [0; 16] {
            id[15] = 1;
        }
        id
    }

    pub(crate) fn span(&mut self) -> [u8; 8] {
        match self.next() {
            0 => 1u64.to_be_bytes(),
            v => v.to_be_bytes(),
        }
    }

    /// A Kestra-style ID: 22 base-62 characters, like `4wjLnd0yS6DmMYBGbFFPkx`.
    pub(crate) fn kestra(&mut self) -> String {
        const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut v = (u128::from(self.next()) << 64) | u128::from(self.next());
        (0..22)
            .map(|_| {
                let c = DIGITS[(v % 62) as usize] as char;
                v /= 62;
                c
            })
            .collect()
    }
}
