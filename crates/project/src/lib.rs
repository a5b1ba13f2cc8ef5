//! nanoesp-project
