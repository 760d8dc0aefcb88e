fn main() -> std::process::ExitCode {
    hoist_core::cli::main()
}
