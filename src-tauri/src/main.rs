//! The `firebreak` executable: opens the application window.

// Release builds on Windows must not open a console window next to the application.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    firebreak_app::main()
}
