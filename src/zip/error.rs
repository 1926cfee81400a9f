//! Why an archive or a member cannot be read: structured, cheap to make,
//! and shared by the server (which logs them) and the tools (which print them).

use std::io;

/// Why an archive cannot be indexed.
#[derive(Debug)]
pub enum IndexError {
    Io(io::Error),
    /// No end of central directory record: not a zip at all.
    NotZip,
    /// Split archives are not served.
    MultiDisk,
    /// The end record puts the central directory outside the file.
    DirectoryOutOfBounds {
        offset: u64,
        size: u64,
        file_len: u64,
    },
    /// More entries claimed than the central directory could hold.
    ImpossibleEntryCount {
        claimed: u64,
        cd_size: u64,
    },
    /// A central directory header is malformed or cut short.
    BadCentralHeader {
        index: u64,
    },
    /// Fewer (or more) headers than the end record claims.
    EntryCountMismatch {
        claimed: u64,
        found: u64,
    },
    /// The names alone exceed what the index can address, or an offset or
    /// size exceeds 40 bits (1 TiB).
    TooLarge,
    /// So many names share a hash that a lookup would probe too long: a
    /// directory crafted against the name table.
    TooManyCollisions,
    /// Two members share bytes: the local header at `second` lies inside the
    /// member that starts at `first` (the "overlap" zip bombs are made of).
    OverlappingMembers {
        first: u64,
        second: u64,
    },
}

impl std::fmt::Display for IndexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IndexError::Io(e) => write!(f, "read error: {e}"),
            IndexError::NotZip => f.write_str("not a zip archive (no end of central directory)"),
            IndexError::MultiDisk => f.write_str("split (multi-disk) archives are not supported"),
            IndexError::DirectoryOutOfBounds {
                offset,
                size,
                file_len,
            } => write!(
                f,
                "central directory at {offset}+{size} lies outside the {file_len}-byte file"
            ),
            IndexError::ImpossibleEntryCount { claimed, cd_size } => write!(
                f,
                "{claimed} entries claimed but the central directory has only {cd_size} bytes"
            ),
            IndexError::BadCentralHeader { index } => {
                write!(f, "central directory header {index} is malformed")
            }
            IndexError::EntryCountMismatch { claimed, found } => {
                write!(
                    f,
                    "end record claims {claimed} entries, directory has {found}"
                )
            }
            IndexError::TooLarge => f.write_str("central directory too large to index"),
            IndexError::TooManyCollisions => {
                f.write_str("too many member names share a hash (a crafted directory)")
            }
            IndexError::OverlappingMembers { first, second } => write!(
                f,
                "members overlap: the local header at {second} lies inside the member at {first}"
            ),
        }
    }
}

impl std::error::Error for IndexError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IndexError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for IndexError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            IndexError::NotZip
        } else {
            IndexError::Io(e)
        }
    }
}

/// Why a member's data cannot be located.
#[derive(Debug)]
pub enum DataError {
    Io(io::Error),
    /// The local header is missing, names another file, or its data runs past the directory.
    BadLocalHeader,
}

impl std::fmt::Display for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataError::Io(e) => write!(f, "read error: {e}"),
            DataError::BadLocalHeader => {
                f.write_str("local header missing or disagreeing with the central directory")
            }
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io(e) => Some(e),
            DataError::BadLocalHeader => None,
        }
    }
}
