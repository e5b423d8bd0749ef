//! Ctrl-C and SIGTERM: stop everything the grader started, then exit.
//!
//! Every process the grader spawns (cargo, each check) runs in a process group of its own, so
//! that a check's children can be killed with it and so that a terminal's Ctrl-C does not reach
//! candidate code first. The price is that the grader must forward the interrupt itself: the
//! handler kills every registered group, and the code that waits on those processes notices
//! [`requested`] and unwinds normally, which removes temporary directories on the way out.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static GROUPS: Mutex<Option<HashSet<i32>>> = Mutex::new(None);

/// Installs the Ctrl-C / SIGTERM handler. Call once, early in `main`.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        REQUESTED.store(true, Ordering::SeqCst);
        if let Ok(groups) = GROUPS.lock() {
            for &pgid in groups.iter().flatten() {
                let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            }
        }
    });
}

/// Whether an interrupt has arrived.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Records a process group to kill on interrupt.
pub(crate) fn register(pgid: i32) {
    if let Ok(mut groups) = GROUPS.lock() {
        groups.get_or_insert_with(HashSet::new).insert(pgid);
    }
    // An interrupt that arrived between spawn and registration must still reach this group.
    if requested() {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}

/// Forgets a process group once it is gone.
pub(crate) fn unregister(pgid: i32) {
    if let Ok(mut groups) = GROUPS.lock()
        && let Some(groups) = groups.as_mut()
    {
        groups.remove(&pgid);
    }
}
