fn main() {
    std::process::exit(pat2entra::cli::main());
}
