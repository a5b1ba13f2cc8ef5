//! nanoesp-server (work in progress).
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
