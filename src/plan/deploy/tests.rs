//! Table tests of `decide`: filled below.
