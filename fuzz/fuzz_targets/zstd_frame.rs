#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| hoist_fuzz::zstd_frame(data));
