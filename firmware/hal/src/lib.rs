//! nanoesp-hal (work in progress).
#![no_std]
