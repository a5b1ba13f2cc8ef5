//! Turns the project's `nanoesp.toml` into `$OUT_DIR/config.rs` (reading and emitting:
//! `runtime/buildcfg`). In esp-master mode the ESP8266 joins Wi-Fi, so the Nano's firmware
//! gets only the common constants (build id, board, link, console) and never reads
//! `secrets.toml`.

fn main() {
    let project = nanoesp_buildcfg::Project::load();
    let constants = project.common_constants("nanoesp.toml");
    project.write(constants);
}
