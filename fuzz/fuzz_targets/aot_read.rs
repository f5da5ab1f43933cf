//! Fuzz target for the compiled-file reader (`stdlib::aot::read`): any bytes must give a
//! file or a one-line error, never a panic, hang or huge allocation; and a file it accepts
//! must write back to bytes it reads the same way.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match stdlib::aot::read(data) {
        Ok(file) => {
            let bytes =
                stdlib::aot::write(&file.elf, &file.meta, None).expect("write what was read");
            let again = stdlib::aot::read(&bytes).expect("read what was written");
            assert_eq!(again, file);
        }
        Err(e) => assert!(!e.to_string().contains('\n'), "a two-line error: {e}"),
    }
});
