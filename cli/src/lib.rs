//! nanoesp CLI library
