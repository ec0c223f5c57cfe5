//! SIGTERM/SIGINT without a signal-handler crate: block both in the main thread before any other
//! thread exists (so every thread inherits the mask), then `sigwait` for them in a thread of its own.

use std::mem::MaybeUninit;

/// A blocked set of termination signals, ready to be waited for.
pub struct Termination {
    set: libc::sigset_t,
}

// SAFETY: `sigset_t` is plain data; it is only read by `sigwait`.
unsafe impl Send for Termination {}

impl Termination {
    /// Blocks SIGTERM and SIGINT for the calling thread and every thread it creates later.
    /// Call it before spawning any thread.
    pub fn block() -> std::io::Result<Termination> {
        // SAFETY: the set is initialised by sigemptyset before any other use.
        unsafe {
            let mut set = MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(set.as_mut_ptr());
            let mut set = set.assume_init();
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(std::io::Error::from_raw_os_error(rc));
            }
            Ok(Termination { set })
        }
    }

    /// Runs `on_signal` with the signal number in a new thread once SIGTERM or SIGINT arrives.
    pub fn on_signal(self, on_signal: impl FnOnce(i32) + Send + 'static) {
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let mut sig: libc::c_int = 0;
                // SAFETY: `set` is a valid, initialised signal set and `sig` a valid out-pointer.
                while unsafe { libc::sigwait(&self.set, &mut sig) } != 0 {}
                on_signal(sig);
            })
            .expect("spawn the signal thread");
    }
}

/// The conventional name of a termination signal, for logs.
pub fn name(sig: i32) -> &'static str {
    match sig {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => "signal",
    }
}
