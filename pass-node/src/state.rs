//! The lease store: the node's leases on disk, so that they survive a restart
//! (DESIGN decisions 52 and 54).
//!
//! One [redb](https://www.redb.org) file, `leases.redb`, in the state directory: a
//! table from port to (owner's full JID, oneshot, expiry in Unix milliseconds), and
//! a format number. The driver writes each batch of [`LeaseChange`]s in one
//! transaction that is durable when [`Store::apply`] returns (redb's default
//! `Durability::Immediate`: copy-on-write pages, then a checksummed commit slot,
//! fsync'd); a crash in the middle leaves the previous commit, so a torn write
//! loses at most the changes of that batch, never the store.

use pass_core::jid::Jid;
use pass_core::lease::LeaseChange;
use redb::{Database, DatabaseError, ReadableDatabase, ReadableTable, TableDefinition};
use std::fmt;
use std::path::{Path, PathBuf};

/// The store's file name inside the state directory.
pub const FILE_NAME: &str = "leases.redb";
/// The state directory used when neither `--state-dir` nor `$STATE_DIRECTORY`
/// names one: relative to the working directory.
pub const DEFAULT_DIR: &str = "pass-node-state";
/// The environment variable systemd sets from the unit's `StateDirectory=`.
pub const STATE_DIRECTORY_ENV: &str = "STATE_DIRECTORY";

/// Port → (owner full JID, oneshot, expiry in Unix milliseconds or none).
const LEASES: TableDefinition<u16, (&str, bool, Option<u64>)> = TableDefinition::new("leases");
/// `format` → the layout version of [`LEASES`].
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const FORMAT_KEY: &str = "format";
/// The layout this build reads and writes.
const FORMAT: u64 = 1;

/// One stored lease, with its expiry on the wall clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLease {
    /// The leased port.
    pub port: u16,
    /// The full JID that registered it.
    pub owner: Jid,
    /// Ends after its first relay.
    pub oneshot: bool,
    /// When it expires, in milliseconds since the Unix epoch; `None` for never.
    pub expires_unix_ms: Option<u64>,
}

/// Why the store cannot be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum StateError {
    /// The state directory cannot be created or is not a directory.
    Dir(PathBuf, std::io::Error),
    /// Another process (another pass-node) has the store open.
    InUse(PathBuf),
    /// The file is not a store this build can read: corrupt, truncated, another
    /// file, or a format from another version.
    Unreadable(PathBuf, String),
    /// Reading or writing failed (I/O, disk full).
    Io(PathBuf, String),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Dir(p, e) => write!(f, "state directory {}: {e}", p.display()),
            StateError::InUse(p) => write!(
                f,
                "lease store {}: in use by another process (another pass-node with the same state directory?)",
                p.display()
            ),
            StateError::Unreadable(p, why) => write!(
                f,
                "lease store {} is unreadable: {why}; the node will not start and lose the \
                 leases in it: restore it from a backup, or start once with --reset-state to \
                 begin with no leases",
                p.display()
            ),
            StateError::Io(p, why) => write!(f, "lease store {}: {why}", p.display()),
        }
    }
}

impl std::error::Error for StateError {}

/// The open store.
#[derive(Debug)]
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) the store in `dir`, creating the directory if needed;
    /// with `reset`, whatever file was there is removed first (even an unreadable
    /// one). Refuses a store another process has open, and a corrupt one.
    pub fn open(dir: &Path, reset: bool) -> Result<Store, StateError> {
        create_dir(dir)?;
        let path = dir.join(FILE_NAME);
        if reset {
            // Not while another node uses it: opening takes redb's file lock.
            match Database::open(&path) {
                Err(DatabaseError::DatabaseAlreadyOpen) => return Err(StateError::InUse(path)),
                Ok(db) => drop(db),
                Err(_) => {}
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StateError::Io(path, format!("cannot remove it: {e}"))),
            }
        }
        let db = Database::create(&path).map_err(|e| open_error(&path, e))?;
        let store = Store { db, path };
        store.check_format()?;
        Ok(store)
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks the format number, writing it into a new store.
    fn check_format(&self) -> Result<(), StateError> {
        let txn = self.db.begin_write().map_err(|e| self.io(e))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| self.unreadable(e))?;
            let found = meta
                .get(FORMAT_KEY)
                .map_err(|e| self.unreadable(e))?
                .map(|v| v.value());
            match found {
                Some(FORMAT) => {}
                Some(other) => {
                    return Err(StateError::Unreadable(
                        self.path.clone(),
                        format!("format {other}, this pass-node reads format {FORMAT}"),
                    ))
                }
                None => {
                    meta.insert(FORMAT_KEY, FORMAT).map_err(|e| self.io(e))?;
                }
            }
            // Created here so that a reader always finds it.
            txn.open_table(LEASES).map_err(|e| self.unreadable(e))?;
        }
        txn.commit().map_err(|e| self.io(e))
    }

    /// Every stored lease, by port. A record that does not read back (an owner
    /// that is no JID) makes the whole store unreadable: the node must not start
    /// on a store it half understands.
    pub fn load(&self) -> Result<Vec<StoredLease>, StateError> {
        let txn = self.db.begin_read().map_err(|e| self.io(e))?;
        let table = txn.open_table(LEASES).map_err(|e| self.unreadable(e))?;
        let mut leases = Vec::new();
        for row in table.iter().map_err(|e| self.unreadable(e))? {
            let (port, value) = row.map_err(|e| self.unreadable(e))?;
            let port = port.value();
            let (owner, oneshot, expires_unix_ms) = value.value();
            let owner = Jid::new(owner).map_err(|e| {
                StateError::Unreadable(
                    self.path.clone(),
                    format!("the lease on port {port} has an owner that is no JID ({e})"),
                )
            })?;
            leases.push(StoredLease {
                port,
                owner,
                oneshot,
                expires_unix_ms,
            });
        }
        Ok(leases)
    }

    /// Writes `changes` in one durable transaction; `to_unix_ms` converts a
    /// granted lease's expiry to the wall clock. Nothing is written if there is
    /// nothing to write.
    pub fn apply(
        &self,
        changes: &[LeaseChange],
        to_unix_ms: impl Fn(pass_core::time::Instant) -> u64,
    ) -> Result<(), StateError> {
        if changes.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(|e| self.io(e))?;
        {
            let mut table = txn.open_table(LEASES).map_err(|e| self.io(e))?;
            for change in changes {
                match change {
                    LeaseChange::Granted(r) => {
                        let owner = r.owner.to_string();
                        let expires = r.expires_at.map(&to_unix_ms);
                        table
                            .insert(r.port, (owner.as_str(), r.oneshot, expires))
                            .map_err(|e| self.io(e))?;
                    }
                    LeaseChange::Ended { port } => {
                        table.remove(*port).map_err(|e| self.io(e))?;
                    }
                    // A change this build does not know is not a lease it keeps.
                    _ => {}
                }
            }
        }
        txn.commit().map_err(|e| self.io(e))
    }

    fn io(&self, e: impl fmt::Display) -> StateError {
        StateError::Io(self.path.clone(), e.to_string())
    }

    fn unreadable(&self, e: impl fmt::Display) -> StateError {
        StateError::Unreadable(self.path.clone(), e.to_string())
    }
}

/// Creates the state directory (owner-only on Unix: it says who holds which port).
fn create_dir(dir: &Path) -> Result<(), StateError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| StateError::Dir(dir.to_path_buf(), e))?;
    if !dir.is_dir() {
        let e = std::io::Error::other("not a directory");
        return Err(StateError::Dir(dir.to_path_buf(), e));
    }
    Ok(())
}

fn open_error(path: &Path, e: DatabaseError) -> StateError {
    match e {
        DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
            StateError::InUse(path.to_path_buf())
        }
        DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            StateError::Io(path.to_path_buf(), io.to_string())
        }
        other => StateError::Unreadable(path.to_path_buf(), other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pass_core::lease::LeaseRecord;
    use pass_core::time::Instant;

    fn granted(port: u16, expires: Option<u64>) -> LeaseChange {
        LeaseChange::Granted(LeaseRecord::new(
            port,
            Jid::new("owner@example.org/home").unwrap(),
            false,
            expires.map(Instant::from_millis),
        ))
    }

    #[test]
    fn changes_are_kept_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), false).unwrap();
            assert_eq!(store.load().unwrap(), []);
            let changes = [granted(20001, Some(5)), granted(20002, None)];
            store.apply(&changes, |t| t.as_millis() + 1000).unwrap();
            store
                .apply(&[LeaseChange::Ended { port: 20002 }], |_| 0)
                .unwrap();
        }
        let store = Store::open(dir.path(), false).unwrap();
        assert_eq!(
            store.load().unwrap(),
            [StoredLease {
                port: 20001,
                owner: Jid::new("owner@example.org/home").unwrap(),
                oneshot: false,
                expires_unix_ms: Some(1005),
            }]
        );
    }

    #[test]
    fn a_second_open_is_refused_while_the_first_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path(), false).unwrap();
        assert!(matches!(
            Store::open(dir.path(), false),
            Err(StateError::InUse(_))
        ));
        assert!(matches!(
            Store::open(dir.path(), true),
            Err(StateError::InUse(_))
        ));
    }

    #[test]
    fn garbage_is_unreadable_and_reset_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), vec![0x5a; 8192]).unwrap();
        let e = Store::open(dir.path(), false).unwrap_err();
        assert!(matches!(e, StateError::Unreadable(..)), "{e:?}");
        let message = e.to_string();
        assert!(message.contains(FILE_NAME), "{message}");
        assert!(message.contains("--reset-state"), "{message}");
        let store = Store::open(dir.path(), true).unwrap();
        assert_eq!(store.load().unwrap(), []);
    }
}
