use super::stun_username_local_ufrag;

#[test]
fn username_local_part() {
    // A binding request with USERNAME "abcd:efgh" (RFC 8489 §14.3), no integrity needed for the lookup.
    let mut m = alloc::vec![0x00, 0x01, 0x00, 0x10, 0x21, 0x12, 0xA4, 0x42];
    m.extend_from_slice(&[7; 12]);
    m.extend_from_slice(&[0x00, 0x06, 0x00, 0x09]);
    m.extend_from_slice(b"abcd:efgh\0\0\0");
    assert_eq!(stun_username_local_ufrag(&m), Some("abcd"));
    // Truncated, not STUN, or no USERNAME.
    assert_eq!(stun_username_local_ufrag(m.get(..30).unwrap_or_default()), None);
    assert_eq!(stun_username_local_ufrag(&[22, 0xfe, 0xfd]), None);
    let mut no_user = m.clone();
    no_user[20] = 0x80;
    assert_eq!(stun_username_local_ufrag(&no_user), None);
}
