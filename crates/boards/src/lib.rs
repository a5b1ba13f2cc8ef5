//! nanoesp-boards
