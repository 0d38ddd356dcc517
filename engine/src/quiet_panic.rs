//! Third-party readers (symphonia's demuxers and decoders, rustysynth) panic on some damaged
//! files. Cadenza catches those panics and reports the file as damaged; this module also keeps
//! the panic hook from printing them to the terminal as if Cadenza had crashed, while a panic
//! anywhere else is still printed as before.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    /// True while this thread runs code whose panics are caught and reported as bad input.
    static CAUGHT_AS_BAD_INPUT: Cell<bool> = const { Cell::new(false) };
}

static QUIET_HOOK: Once = Once::new();

/// Runs `read`, turning a panic inside it into `Err` without a message on stderr.
pub fn catch_reader_panic<T>(read: impl FnOnce() -> T) -> std::thread::Result<T> {
    QUIET_HOOK.call_once(|| {
        // Wraps whatever hook is installed (the default, a test harness's, a fuzzer's).
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CAUGHT_AS_BAD_INPUT.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let outer = CAUGHT_AS_BAD_INPUT.with(|flag| flag.replace(true));
    let result = catch_unwind(AssertUnwindSafe(read));
    CAUGHT_AS_BAD_INPUT.with(|flag| flag.set(outer));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_panic_becomes_an_error() {
        let result: std::thread::Result<u32> = catch_reader_panic(|| panic!("a damaged table"));
        assert!(result.is_err());
        assert_eq!(catch_reader_panic(|| 7).ok(), Some(7));
        // The flag is down again afterwards: later panics reach the hook as before.
        assert!(!CAUGHT_AS_BAD_INPUT.with(Cell::get));
    }
}
