//! The Lambda's `bootstrap`: wiring only (see the library for every decision).

fn main() {
    eprintln!("sentinel-tvm-lambda: the vending handler is not built yet; refusing to start");
    std::process::exit(2);
}
