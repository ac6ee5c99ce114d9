fn main() {
    eprintln!("pass-node: not built yet");
    std::process::exit(2);
}
