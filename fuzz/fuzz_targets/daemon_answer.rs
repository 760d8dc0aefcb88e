#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| hoist_fuzz::daemon_answer(data));
