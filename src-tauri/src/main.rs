//! `loupe`: the command line. The desktop shell (feature `desktop`) will
//! open a window over the same core; `loupe serve` runs it headless.

mod cli;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
