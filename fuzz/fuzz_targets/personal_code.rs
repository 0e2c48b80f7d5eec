//! Any text → personal-code decoder → verifier: no input panics, a decoded
//! code prints back to text that decodes to the same code, and no mutated
//! text verifies unless it decodes to the very code that was signed.
#![no_main]

use gw_domain::testing::PersonalCode;
use libfuzzer_sys::fuzz_target;

const KEY: &[u8] = b"fuzz-signing-key-0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(code) = PersonalCode::decode(&text) else {
        return;
    };
    assert_eq!(PersonalCode::decode(&code.text()).as_ref(), Ok(&code));
    let keys = vec![(code.key_id, KEY.to_vec())];
    if code.verify(&keys).is_ok() {
        // Only the code the key signs for these fields verifies.
        let signed = PersonalCode::issue(code.key_id, KEY, code.street, &code.uid, code.generation);
        assert_eq!(signed, code);
    }
});
