//! The redactor against secret shapes that must be masked and look-alikes
//! that must be left alone, plus the bounds (no panic, bounded output).

use loupe_redact::{Redactor, MASK, MAX_FINDINGS, MAX_INPUT, TRUNCATED};
use proptest::prelude::*;

fn r() -> Redactor {
    Redactor::new::<&str>(&[])
}

/// (text, the secret that must not survive). Each is masked, the secret
/// substring is absent from the output, and what the row says is kept
/// around it is still there.
const SECRETS: &[(&str, &str)] = &[
    ("password=hunter2", "hunter2"),
    ("connect with password=hunter2 failed", "hunter2"),
    ("PASSWORD: hunter2", "hunter2"),
    ("passwd=s3cr3tpass", "s3cr3tpass"),
    ("db_password = 'Tr0ub4dor&3'", "Tr0ub4dor&3"),
    (r#"{"password":"hunter2","user":"bob"}"#, "hunter2"),
    (r#"payload {\"password\":\"hunter2\"} rejected"#, "hunter2"),
    ("secret=abcdef123456", "abcdef123456"),
    ("client_secret=cs_0123456789abcdef", "cs_0123456789abcdef"),
    ("token=tok_123456789", "tok_123456789"),
    ("apikey=ak_123456789", "ak_123456789"),
    ("api_key: ak_987654321", "ak_987654321"),
    ("X-API-Key: 0123456789abcdef0123", "0123456789abcdef0123"),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("private_key=MIIEvQIBADANBgkqhkiG9w0BAQEF", "MIIEvQIBADANBgkqhkiG9w0BAQEF"),
    ("credentials=user1:pa55word", "user1:pa55word"),
    ("session=sess_8f7a6b5c4d3e", "sess_8f7a6b5c4d3e"),
    ("Cookie: sid=abc123def456", "abc123def456"),
    ("set-cookie: id=a3fWa; Expires=Thu", "a3fWa"),
    ("Authorization: Bearer abc123.def456", "abc123.def456"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    ("calling with Bearer mF_9.B5f-4.1JqM", "mF_9.B5f-4.1JqM"),
    ("header basic QWxhZGRpbjpvcGVuIHNlc2FtZQ== sent", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U here", "eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
    ("key id AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
    ("temp ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"),
    ("key: -----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\\n", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU"),
    ("fetch https://alice:s3cret@example.com/x", "s3cret"),
    ("postgres://app:pg_pa55@db.internal:5432/orders", "pg_pa55"),
    ("mongodb+srv://root:m0ng0pw@cluster0.mongodb.net/test", "m0ng0pw"),
    ("redis://:r3d1spw@cache:6379", "r3d1spw"),
    ("Server=db;User Id=sa;Password=Adm1nPw;Database=x", "Adm1nPw"),
    ("GET /cb?state=x&token=qs_tok_42 HTTP/1.1", "qs_tok_42"),
    ("https://x.io/y?access_token=at_0123456789", "at_0123456789"),
    ("https://acc.blob.core.windows.net/c/b?sv=2021&sig=Zm9vYmFyYmF6cXV4", "Zm9vYmFyYmF6cXV4"),
    ("https://b.s3.amazonaws.com/k?X-Amz-Credential=AKID%2F20240101&X-Amz-Signature=deadbeefcafe1234", "deadbeefcafe1234"),
    ("https://b.s3.amazonaws.com/k?X-Amz-Credential=credvalue123&X-Amz-Date=1", "credvalue123"),
    ("https://maps.example.com/api?key=k_0123456789", "k_0123456789"),
    ("https://idp.example.com/cb?code=oauthcode123&state=1", "oauthcode123"),
    ("https://x.io/?client_secret=csecret99", "csecret99"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("gho_abcdefghijklmnopqrstuvwxyz0123456789", "gho_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"),
    ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp"),
    ("xoxp-123456789012-abcdefabcdef", "xoxp-123456789012-abcdefabcdef"),
    ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("OPENAI sk-proj-AbCdEf0123456789GhIjKlMn", "sk-proj-AbCdEf0123456789GhIjKlMn"),
    ("sk-AbCdEf0123456789GhIjKlMnOpQr", "sk-AbCdEf0123456789GhIjKlMnOpQr"),
    ("AIzaSyA1234567890abcdefghijklmnopqrstuv", "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
    ("glpat-abcdefghij0123456789", "glpat-abcdefghij0123456789"),
    ("posting to https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX", "T000/B000/XXXXXXXXXXXX"),
    ("npm_abcdefghijklmnopqrstuvwxyz0123456789", "npm_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("/usr/bin/app --password hunter2 --verbose", "hunter2"),
    ("/usr/bin/app --api-key=ak_flag_99", "ak_flag_99"),
    ("auth_token=at_55555555", "at_55555555"),
    ("accessKey: AK_abcdef123", "AK_abcdef123"),
    ("AccountKey=azurekey0123456789==;EndpointSuffix=core", "azurekey0123456789=="),
];

/// Strings that must come out unchanged.
const LOOK_ALIKES: &[&str] = &[
    "token_count=5",
    "gen_ai.usage.input_tokens=512",
    "keyboard layout changed",
    "monkey=1",
    "author=Alice",
    "authority: api.example.com",
    "sessionStorage is not available in this context",
    "the password was wrong",
    "tokenizer failed on input",
    "request id 123e4567-e89b-12d3-a456-426614174000",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "https://example.com/path?page=2&sort=asc",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    "TAKIAWAYFROMHEREXYZ1234 is not a key",
    "Basic authentication failed",
    "Bearer tokens expire after an hour",
    "password_hint=pet name",
    "cache miss key=user:42",
    "exit code=1",
    "ssh://git@github.com/org/repo.git",
    "http://localhost:8080/api/v1/traces",
    "mail alice@example.com",
    "auth.method=oauth",
    "secret.name=db-credentials",
    "ghp_short",
    "uses sk-learn for scoring",
    "GET /users/42 200 in 12ms",
    "time 12:30:45 elapsed",
    "private_key_file=/etc/ssl/key.pem",
];

#[test]
fn secret_shapes_are_masked_and_gone() {
    assert!(SECRETS.len() >= 40, "{} shapes", SECRETS.len());
    let r = r();
    for (text, secret) in SECRETS {
        let out = r.redact_str(text);
        assert!(out.contains(MASK), "{text:?} was not masked: {out:?}");
        assert!(!out.contains(secret), "{text:?} kept {secret:?}: {out:?}");
        assert!(r.value_matches(text), "{text:?}");
    }
}

#[test]
fn look_alikes_are_left_alone() {
    assert!(LOOK_ALIKES.len() >= 20, "{} look-alikes", LOOK_ALIKES.len());
    let r = r();
    for text in LOOK_ALIKES {
        assert_eq!(r.redact_str(text), *text, "{text:?} was changed");
    }
}

/// The regression of issue 12: a match inside a log body masked the whole
/// body, so the bug report lost the message.
#[test]
fn log_body_match_masks_only_the_secret_not_the_whole_body() {
    let r = r();
    assert_eq!(
        r.redact_str("connect with password=hunter2 failed"),
        "connect with password=[REDACTED] failed"
    );
    assert_eq!(
        r.redact_str("GET https://alice:pw123456@example.com/x?page=2&token=abc123 -> 401"),
        "GET https://alice:[REDACTED]@example.com/x?page=2&token=[REDACTED] -> 401"
    );
    assert_eq!(
        r.redact_str("Authorization: Bearer abc123.def456 rejected"),
        "Authorization: Bearer [REDACTED] rejected"
    );
}

#[test]
fn masking_twice_changes_nothing_more() {
    let r = r();
    for (text, _) in SECRETS {
        let once = r.redact_str(text).into_owned();
        assert_eq!(r.redact_str(&once), once, "{text:?}");
    }
}

#[test]
fn findings_show_context_but_not_the_secret() {
    let r = r();
    let f = r.findings("could not connect with password=hunter2 failed after 3 tries");
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].before.contains("password=hu…[masked] failed"),
        "{:?}",
        f[0]
    );
    assert!(
        f[0].after.contains("password=[REDACTED] failed"),
        "{:?}",
        f[0]
    );
    assert!(!f[0].before.contains("hunter2") && !f[0].after.contains("hunter2"));
    assert_eq!(f[0].rule, "password");
    // A neighbouring secret in the context is masked too.
    let f = r.findings("token=tok_aaaaaaaa password=pw_bbbbbbbb");
    assert_eq!(f.len(), 2);
    for x in &f {
        assert!(
            !x.before.contains("aaaaaaaa") && !x.before.contains("bbbbbbbb"),
            "{x:?}"
        );
    }
}

#[test]
fn findings_are_capped() {
    let r = r();
    let text = (0..200)
        .map(|i| format!("password=pw{i:06} "))
        .collect::<String>();
    let mut report = loupe_redact::RedactionReport::default();
    let out = r.redact_field("(log body)", &text, &mut report);
    assert!(!out.contains("pw000199"));
    assert_eq!(report.findings.len(), MAX_FINDINGS);
    assert_eq!(report.more_findings, 150);
    assert_eq!(report.total, 1);
}

#[test]
fn user_patterns_add_keys() {
    let r = Redactor::new(&["ssn"]);
    assert!(r.key_matches("user.SSN"));
    assert_eq!(
        r.redact_str("user_ssn=123-45-6789 ok"),
        "user_ssn=[REDACTED] ok"
    );
    assert!(!Redactor::new::<&str>(&[]).key_matches("user.ssn"));
}

#[test]
fn json_answers_are_masked_by_key_and_value() {
    let r = r();
    let mut v = serde_json::json!({
        "name": "checkout",
        "attributes": {"db.password": "hunter2", "http.url": "https://a:b12345@x/", "n": 3},
        "headers": [{"Authorization": {"scheme": "Bearer", "v": 1}}],
        "logs": ["connect with password=hunter2 failed"],
        "token_count": 5
    });
    r.redact_json(&mut v);
    let s = v.to_string();
    assert!(!s.contains("hunter2") && !s.contains("b12345"), "{s}");
    assert_eq!(v["attributes"]["db.password"], MASK);
    assert_eq!(v["headers"][0]["Authorization"], MASK);
    assert_eq!(v["logs"][0], "connect with password=[REDACTED] failed");
    assert_eq!(v["token_count"], 5);
    assert_eq!(v["name"], "checkout");
}

#[test]
fn long_strings_are_scanned_in_windows_and_cut_past_the_maximum() {
    let r = r();
    // Secrets on both sides of a window boundary.
    let filler = "lorem ipsum ".repeat(3000);
    let text = format!("{filler}password=one1111 {filler}token=two2222 {filler}");
    let out = r.redact_str(&text);
    assert!(!out.contains("one1111") && !out.contains("two2222"));
    assert_eq!(out.len(), text.len() - 14 + 2 * MASK.len());
    // Past the maximum, the rest is cut, never passed on unscanned.
    let huge = format!("{}password=late9999", "x ".repeat(MAX_INPUT / 2));
    let out = r.redact_str(&huge);
    assert!(!out.contains("late9999"));
    assert!(out.ends_with(TRUNCATED));
    assert!(out.len() <= MAX_INPUT + TRUNCATED.len());
}

#[test]
fn a_pem_block_cut_by_a_window_is_masked_on_both_sides() {
    let r = r();
    let body = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0123456789ab\n".repeat(40);
    let text = format!(
        "{}-----BEGIN PRIVATE KEY-----\n{body}-----END PRIVATE KEY-----\nafter",
        "word ".repeat(3200)
    );
    let out = r.redact_str(&text);
    assert!(
        !out.contains("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0123456789ab"),
        "{}",
        &out[out.len() - 300..]
    );
    assert!(out.ends_with("after"));
}

/// Pieces of secret shapes, glued at random by the property test.
const PIECES: &[&str] = &[
    "password=",
    "Bearer ",
    "://",
    ":",
    "@",
    "?sig=",
    "&",
    "eyJ",
    ".",
    "-----BEGIN PRIVATE KEY-----",
    "-----END PRIVATE KEY-----",
    "\"",
    "\\\"",
    " ",
    "é",
    "AKIA",
    "ghp_",
    "--token ",
    "'",
    "=",
    "\n",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_and_output_is_bounded(s in "\\PC{0,400}") {
        let out = Redactor::new(&["x"]).redact_str(&s);
        // Each masked secret is at least one byte after a key of at least
        // one byte and `=`, so masking at most multiplies the length by
        // the mask's length.
        prop_assert!(out.len() <= s.len() * MASK.len() + TRUNCATED.len());
    }

    #[test]
    fn never_panics_on_secretish_soup(parts in proptest::collection::vec(prop_oneof![
        proptest::sample::select(PIECES).prop_map(String::from),
        "[a-zA-Z0-9]{1,12}",
    ], 0..60)) {
        let s: String = parts.concat();
        let r = Redactor::new::<&str>(&[]);
        let out = r.redact_str(&s);
        prop_assert!(out.len() <= s.len() * MASK.len() + TRUNCATED.len());
    }
}
