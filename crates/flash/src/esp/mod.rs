//! The ESP8266 side: connect to the ROM loader through espflash 2.1, write images,
//! verify them.
