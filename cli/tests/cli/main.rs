//! End-to-end tests of the `nanoesp` binary: one test binary, one module per command.

mod build;
mod config;
mod doctor;
mod esp_master;
mod flash;
mod helpers;
mod new;
mod sim;
