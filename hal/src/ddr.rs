//! The board's DDR: one large memory the DDR-attached I/O clusters share.

/// Why a DDR access failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DdrError {
    /// The bytes run past the DDR's end.
    OutOfRange,
}

/// The DDR as a DDR-attached cluster sees it: bytes by offset, shared with the
/// board's other DDR-attached clusters (what one writes, the others read after it;
/// accesses of two clusters to the same bytes at once may see a mix of both, as
/// DMA engines would). Its contents last as long as the board runs, whatever
/// happens to the clusters.
pub trait Ddr: Send + Sync {
    /// Bytes of the DDR.
    fn size(&self) -> u64;
    /// Reads the bytes from `offset` on into `buffer`.
    fn read(&self, offset: u64, buffer: &mut [u8]) -> Result<(), DdrError>;
    /// Writes `data` to the bytes from `offset` on.
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), DdrError>;
}
