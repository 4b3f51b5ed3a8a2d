use super::*;

const HOST: &str = "sts.eu-west-2.amazonaws.com";
const SIGNATURE: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const NONCE: &str = "00112233445566778899aabbccddeeff";
/// 2026-01-25T14:00:00Z
const NOW: i64 = 1_769_349_600;

fn audiences() -> Vec<String> {
    vec!["a1b2c3d4e5".into()]
}

fn expected(audiences: &[String]) -> Expected<'_> {
    Expected { host: HOST, region: "eu-west-2", audiences, now: Timestamp::from_second(NOW).unwrap() }
}

fn authorization(signed: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20260125/eu-west-2/sts/aws4_request, SignedHeaders={signed}, Signature={SIGNATURE}"
    )
}

/// A well-formed proof as a client of ours sends it.
fn good() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "authorization".to_string(),
            authorization(
                "content-type;host;x-amz-date;x-amz-security-token;x-sentinel-tvm-audience;x-sentinel-tvm-nonce",
            ),
        ),
        ("content-type".into(), CONTENT_TYPE.into()),
        ("host".into(), HOST.into()),
        ("x-amz-date".into(), "20260125T140000Z".into()),
        ("x-amz-security-token".into(), "FwoGZXIvYXdzEXAMPLE".into()),
        (AUDIENCE_HEADER.into(), "a1b2c3d4e5".into()),
        (NONCE_HEADER.into(), NONCE.into()),
        ("user-agent".into(), "forwarded? no".into()),
    ])
}

#[test]
fn a_good_proof_passes_and_forwards_only_its_signed_headers_and_content_type() {
    let audiences = audiences();
    let proof = check(&good(), &expected(&audiences)).unwrap();
    assert_eq!((proof.key_id.as_str(), proof.signature.as_str(), proof.signed_at), ("ASIAEXAMPLE", SIGNATURE, NOW));
    let names: Vec<&str> = proof.forwarded.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["authorization", "content-type", "host", "x-amz-date", "x-amz-security-token", AUDIENCE_HEADER, NONCE_HEADER]
    );
}

#[test]
fn every_check_refuses_with_its_own_code() {
    let audiences = audiences();
    let with = |name: &str, value: &str| {
        let mut headers = good();
        headers.insert(name.into(), value.into());
        headers
    };
    let without = |name: &str| {
        let mut headers = good();
        headers.remove(name);
        headers
    };
    let all_but = |missing: &str| {
        let signed = "content-type;host;x-amz-date;x-amz-security-token;x-sentinel-tvm-audience;x-sentinel-tvm-nonce";
        let kept: Vec<&str> = signed.split(';').filter(|h| *h != missing).collect();
        with("authorization", &authorization(&kept.join(";")))
    };
    let invalid = ErrorCode::ProofInvalid;
    for (what, headers, code) in [
        ("no authorization", without("authorization"), invalid),
        ("presigned-style", with("authorization", "AWS4-HMAC-SHA256Credential=x"), invalid),
        (
            "sigv4a",
            with("authorization", &authorization("host").replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")),
            invalid,
        ),
        ("host unsigned", all_but("host"), invalid),
        ("date unsigned", all_but("x-amz-date"), invalid),
        ("audience unsigned", all_but(AUDIENCE_HEADER), invalid),
        ("nonce unsigned", all_but(NONCE_HEADER), invalid),
        ("token unsigned", all_but("x-amz-security-token"), invalid),
        ("a signed header missing", without("content-type"), invalid),
        ("another host", with("host", "sts.amazonaws.com"), invalid),
        ("another region", with("authorization", &authorization("host").replace("eu-west-2", "us-east-1")), invalid),
        ("another service", with("authorization", &authorization("host").replace("/sts/", "/iam/")), invalid),
        ("another content type", with("content-type", "application/json"), invalid),
        ("another body", with("x-amz-content-sha256", &"0".repeat(64)), invalid),
        ("short nonce", with(NONCE_HEADER, "0011"), invalid),
        ("uppercase nonce", with(NONCE_HEADER, &NONCE.to_uppercase()), invalid),
        ("short signature", with("authorization", &authorization("host").replace(SIGNATURE, "abc")), invalid),
        ("unsorted signed headers", with("authorization", &authorization("x-amz-date;host")), invalid),
        ("malformed date", with("x-amz-date", "2026-01-25T14:00:00Z"), invalid),
        ("date off the scope's day", with("x-amz-date", "20260124T235959Z"), invalid),
        ("301 s old", with("x-amz-date", "20260125T135459Z"), ErrorCode::ProofExpired),
        ("61 s ahead", with("x-amz-date", "20260125T140101Z"), ErrorCode::ProofExpired),
        ("another audience", with(AUDIENCE_HEADER, "zzzzzzzzzz"), ErrorCode::ProofAudience),
        ("no audience value", with(AUDIENCE_HEADER, ""), ErrorCode::ProofAudience),
    ] {
        let result = check(&headers, &expected(&audiences));
        assert_eq!(result.map_err(|e| e.code()), Err(code), "{what}");
    }
    // The window's edges are inside it.
    for date in ["20260125T135500Z", "20260125T140100Z"] {
        assert!(check(&with("x-amz-date", date), &expected(&audiences)).is_ok(), "{date}");
    }
    // A day-old date also fails the scope check when the scope moves with it: still expired.
    let yesterday = with("x-amz-date", "20260124T140000Z");
    let yesterday = BTreeMap::from_iter(
        yesterday
            .into_iter()
            .map(|(k, v)| if k == "authorization" { (k, v.replace("20260125", "20260124")) } else { (k, v) }),
    );
    assert_eq!(check(&yesterday, &expected(&audiences)).map_err(|e| e.code()), Err(ErrorCode::ProofExpired));
}

#[test]
fn the_carrier_is_base64url_of_a_json_object_of_strings() {
    let json = serde_json::to_vec(&good()).unwrap();
    let decoded = decode(&base64url_encode(&json)).unwrap();
    assert_eq!(decoded, good());
    let upper: BTreeMap<String, String> = good().into_iter().map(|(k, v)| (k.to_uppercase(), v)).collect();
    assert_eq!(decode(&base64url_encode(&serde_json::to_vec(&upper).unwrap())).unwrap(), good(), "names fold");
    for (what, carrier) in [
        ("not base64url", "!!!!".to_string()),
        ("padded", format!("{}=", base64url_encode(b"{}x"))),
        ("standard alphabet", "ab+/".to_string()),
        ("not JSON", base64url_encode(b"hello")),
        ("an array", base64url_encode(b"[]")),
        ("a number value", base64url_encode(br#"{"host":1}"#)),
        ("a name twice", base64url_encode(br#"{"host":"a","HOST":"b"}"#)),
        ("too long", "A".repeat(MAX_CARRIER_BYTES + 4)),
    ] {
        assert_eq!(decode(&carrier).map_err(|e| e.code()), Err(ErrorCode::ProofInvalid), "{what}");
    }
}

#[test]
fn base64url_round_trips_and_refuses_non_canonical_text() {
    for bytes in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", &[0xff, 0xfe, 0x00]] {
        let text = base64url_encode(bytes);
        assert!(!text.contains(['=', '+', '/']), "{text}");
        assert_eq!(base64url_decode(&text).as_deref(), Some(bytes), "{text}");
    }
    assert_eq!(base64url_encode(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64url_encode(&[0xfb, 0xff]), "-_8");
    assert_eq!(base64url_decode("Zh"), None, "stray bits after the last byte");
    assert_eq!(base64url_decode("Z"), None);
}

#[test]
fn the_answer_must_be_200_with_exactly_one_caller() {
    let body = |arn: &str, account: &str| {
        format!(
            "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>{arn}</Arn><UserId>AIDAEXAMPLE</UserId><Account>{account}</Account></GetCallerIdentityResult></GetCallerIdentityResponse>"
        )
    };
    let alice = "arn:aws:iam::111122223333:user/alice";
    assert_eq!(
        read_answer(200, &body(alice, "111122223333")),
        Verdict::Verified(VerifiedIdentity {
            arn: alice.into(),
            account_id: "111122223333".into(),
            user_id: "AIDAEXAMPLE".into()
        })
    );
    assert!(
        matches!(read_answer(403, "<Error><Code>SignatureDoesNotMatch</Code></Error>"), Verdict::Refused(why) if why.contains("SignatureDoesNotMatch"))
    );
    for (status, text) in [
        (500, body(alice, "111122223333")),
        (200, body(alice, "444455556666")),
        (200, body("alice", "111122223333")),
        (200, body(alice, "111122223333").replace("</Arn>", "</Arn><Arn>arn:aws:iam::111122223333:root</Arn>")),
        (200, body(alice, "111122223333").replace("<UserId>AIDAEXAMPLE</UserId>", "")),
        (200, body("arn:aws:iam::111122223333:user/a<b>c", "111122223333")),
        (200, String::new()),
    ] {
        assert!(matches!(read_answer(status, &text), Verdict::Unverified(_)), "{status} {text}");
    }
}

#[test]
fn the_expected_host_is_the_endpoints_authority() {
    assert_eq!(host_of("https://sts.eu-west-2.amazonaws.com"), "sts.eu-west-2.amazonaws.com");
    assert_eq!(host_of("http://127.0.0.1:4566"), "127.0.0.1:4566");
    assert_eq!(host_of("http://127.0.0.1:4566/path?x"), "127.0.0.1:4566");
}

#[test]
fn the_body_digest_is_the_bodys() {
    // Checked against `sha256sum` once; the installer's test computes it with sha2 too.
    assert_eq!(BODY.len(), 43);
    assert_eq!(BODY_SHA256.len(), 64);
}
