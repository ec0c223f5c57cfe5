//! SIGTERM/SIGINT without a signal handler, by `nix`: block both in the main thread before any
//! other thread exists (so every thread inherits the mask), then `sigwait` for them in a thread of
//! its own.

use nix::sys::signal::{SigSet, Signal};

/// A blocked set of termination signals, ready to be waited for.
pub struct Termination {
    set: SigSet,
}

impl Termination {
    /// Blocks SIGTERM and SIGINT for the calling thread and every thread it creates later.
    /// Call it before spawning any thread.
    pub fn block() -> std::io::Result<Termination> {
        let mut set = SigSet::empty();
        set.add(Signal::SIGTERM);
        set.add(Signal::SIGINT);
        set.thread_block()?;
        Ok(Termination { set })
    }

    /// Runs `on_signal` with the signal in a new thread once SIGTERM or SIGINT arrives.
    pub fn on_signal(self, on_signal: impl FnOnce(Signal) + Send + 'static) {
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                // `sigwait` fails only on an invalid set, which this one is not: wait again.
                let signal = loop {
                    if let Ok(signal) = self.set.wait() {
                        break signal;
                    }
                };
                on_signal(signal);
            })
            .expect("spawn the signal thread");
    }
}
