//! Fuzzes what `kubewhy explain` does with arbitrary input: the streaming scanner over the raw bytes (with a
//! small window, so long-line windows and overlaps are exercised) and the text readers over the same bytes
//! decoded lossily. Nothing may panic, hang or allocate beyond the window.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut scanner = kubewhy::scan::Scanner::with_window(2 * kubewhy::scan::OVERLAP);
    let stats = scanner
        .read("fuzz", data)
        .expect("reading from memory cannot fail");
    assert_eq!(stats.bytes, data.len() as u64);
    for f in scanner.findings() {
        assert!(f.first_line <= f.last_line && f.count >= 1);
    }
    let text = String::from_utf8_lossy(data);
    if let Some(d) = kubewhy::diagnose_text(&text) {
        // Rendering must cope with whatever was extracted.
        let mut out = Vec::new();
        kubewhy::render::text::write_diagnosis(&mut out, &d, &Default::default())
            .expect("writing to memory");
        kubewhy::render::json::write_diagnosis(&mut out, &d).expect("writing to memory");
    }
});
