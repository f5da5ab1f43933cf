//! Links the `rbt` binary as a non-PIE executable. LLVM is linked statically and carries
//! hundreds of thousands of pointers in relocated data; in a PIE the loader rewrites them at
//! every start, touching megabytes of pages. Resolving them at link time keeps start-up time
//! and peak memory down (measured in bench/RESULTS.md).
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
