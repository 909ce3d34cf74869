//! Unit tests of the journal codecs and the capture writer.
