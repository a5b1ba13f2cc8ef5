//! nanoesp-espemu (work in progress).
