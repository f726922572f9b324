fn main() {
    std::process::exit(vpn_firewall::args::main());
}
