//! Integration tests (todo)
