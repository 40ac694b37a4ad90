//! Console input: the bytes the terminal sends to the cluster that holds it.

/// The console input ended (the terminal closed it) and every byte was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndOfInput;

/// The console input of one cluster.
pub trait ConsoleInput: Send + Sync {
    /// Moves waiting input into `buffer` and returns how many bytes; `Ok(0)` when
    /// nothing is waiting yet, [`EndOfInput`] once the input ended and all was read.
    fn try_read(&self, buffer: &mut [u8]) -> Result<usize, EndOfInput>;

    /// Parks the calling core until input may be waiting (spurious returns allowed;
    /// callers try again).
    fn wait(&self);
}
