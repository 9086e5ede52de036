//! Watches the policies directory. A file renamed into place is whole: it is read at once.
//! A file written in place may be half written: the re-read waits until the directory has
//! been quiet for the settle time. The periodic re-scan covers volumes where inotify sees
//! nothing, and S3.

use std::path::Path;
use std::sync::Arc;

use notify::Watcher;
use notify::event::{EventKind, ModifyKind, RenameMode};

use super::shared::Shared;

pub fn watch(shared: &Arc<Shared>, dir: &Path) -> Option<notify::RecommendedWatcher> {
    let shared = Arc::clone(shared);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        match event.kind {
            // The destination of a rename: the last path of the event.
            EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both)) => {
                if let Some(path) = event.paths.last() {
                    shared.settle.arrived_whole(path);
                }
                shared.request_reload();
            }
            // Reading the files during a reload raises access events: reacting to those
            // would reload forever.
            k if k.is_create() || k.is_modify() || k.is_remove() => shared.request_reload_when_quiet(),
            _ => {}
        }
    })
    .map_err(|e| tracing::warn!("cannot watch policies: {e}; relying on the periodic re-scan"))
    .ok()?;
    watcher
        .watch(dir, notify::RecursiveMode::NonRecursive)
        .map_err(|e| tracing::warn!("cannot watch policies: {e}; relying on the periodic re-scan"))
        .ok()?;
    Some(watcher)
}
