fn main() {
    std::process::exit(vpn_firewall::commands::main());
}
