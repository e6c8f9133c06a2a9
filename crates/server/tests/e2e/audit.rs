//! Audit (issue 11): every security event of a real journey is an audit record in the store —
//! with the tenant, the user's object id, the client's IP and user agent and the journey's
//! correlation id, never a password, a code, a token or an address typed for no account — and
//! records past their retention are purged.

use trustframe_store::AuditRecord;

use crate::helpers::*;
use crate::verification::{Codes, enter_code, send_code, verify_email};

const AGENT: &str = "audit-test/1.0 (e2e)";

fn browser(app: &TestApp) -> Browser {
    Browser::with_client(app, reqwest::Client::builder().user_agent(AGENT))
}

async fn records(app: &TestApp) -> Vec<AuditRecord> {
    app.state.tenants[0]
        .store
        .audit_after(0, 10_000)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| r.kind != "rest_call")
        .collect()
}

fn of_kind<'a>(records: &'a [AuditRecord], kind: &str, outcome: &str) -> Vec<&'a AuditRecord> {
    records
        .iter()
        .filter(|r| r.kind == kind && r.outcome == outcome)
        .collect()
}

#[tokio::test]
async fn security_events_are_audited_with_who_and_from_where_and_no_secret() {
    let app = spawn_app(
        "[[user_flows]]\nid = \"B2C_1_reset\"\ntype = \"password_reset\"\napplication_claims = [\"email\", \"objectId\"]\n[lockout]\nthreshold = 3",
    )
    .await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let email = unique_email("audited");

    // Sign-up: a code sent, a wrong code, a new code, the account.
    let b = browser(&app);
    let page = b.get(&start).await.page();
    let form = b
        .get(&page.href_of("createAccount").unwrap_or_default())
        .await
        .page();
    let sent = send_code(&b, &form, &email).await;
    let wrong = enter_code(&b, &sent, "000000").await;
    let code = crate::verification::mailbox_code(&b, &email).await;
    assert_ne!(code, "000000");
    let verified = verify_email(&b, &wrong, &email, Codes::Mailbox).await;
    let callback = b
        .submit(
            &verified,
            &[
                ("email", email.as_str()),
                ("newPassword", PASSWORD),
                ("reenterPassword", PASSWORD),
                ("givenName", "Aud"),
                ("surname", "Ited"),
                ("displayName", "Aud Ited"),
                ("action", "continue"),
            ],
        )
        .await
        .callback();
    let (_, tokens) = redeem(&app, callback.get("code").unwrap_or_default(), None).await;
    let oid = claims(tokens["id_token"].as_str().unwrap_or_default())["oid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!oid.is_empty(), "{tokens}");

    // Sign-ins: a wrong password, an unknown address until it locks, the right password.
    let wrong_password = "Wrong-Passw0rd!";
    sign_in(&browser(&app), &start, &email, wrong_password)
        .await
        .page();
    let nobody = unique_email("nobody");
    for _ in 0..4 {
        sign_in(&browser(&app), &start, &nobody, wrong_password)
            .await
            .page();
    }
    sign_in(&browser(&app), &start, &email, PASSWORD)
        .await
        .callback();

    // A refresh token used twice: its family is revoked.
    let refresh = tokens["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let form = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("client_id", WEB_CLIENT.to_owned()),
        ("client_secret", WEB_SECRET.to_owned()),
        ("refresh_token", refresh.clone()),
    ];
    let (status, renewed) = token_request(&app, &form).await;
    assert_eq!(status, 200, "{renewed}");
    let (status, _) = token_request(&app, &form).await;
    assert_eq!(status, 400);

    // A password reset.
    let b = browser(&app);
    let discovery = b
        .get(&authorize_url(&app, "B2C_1_reset", WEB_CLIENT, &[]))
        .await
        .page();
    let verified = verify_email(&b, &discovery, &email, Codes::Mailbox).await;
    let page = b
        .submit(
            &verified,
            &[("email", email.as_str()), ("action", "continue")],
        )
        .await
        .page();
    let new_password = "N3w-Audited-Passw0rd!";
    b.submit(
        &page,
        &[
            ("newPassword", new_password),
            ("reenterPassword", new_password),
            ("action", "continue"),
        ],
    )
    .await
    .callback();

    let all = records(&app).await;
    let one = |kind: &str, outcome: &str| {
        let found = of_kind(&all, kind, outcome);
        assert!(!found.is_empty(), "no {kind}/{outcome} record in {all:#?}");
        found
    };
    assert_eq!(
        one("code_sent", "sent").len(),
        3,
        "two at sign-up, one at reset"
    );
    one("code_failed", "wrong_code");
    let wrong = one("sign_in_failed", "wrong_password");
    assert_eq!(wrong[0].subject.as_deref(), Some(oid.as_str()));
    let unknown = one("sign_in_failed", "no_such_user");
    assert!(unknown.iter().all(|r| r.subject.is_none()));
    one("sign_in_failed", "locked");
    let locked = one("account_locked", "locked");
    assert_eq!(locked[0].subject, None);
    assert_eq!(locked[0].detail["scope"], "account");
    let signed_in = one("sign_in", "success");
    assert_eq!(signed_in[0].subject.as_deref(), Some(oid.as_str()));
    let revoked = one("token_family_revoked", "revoked");
    assert_eq!(revoked[0].subject.as_deref(), Some(oid.as_str()));
    assert_eq!(revoked[0].detail["reason"], "refresh token reused");
    let reset = one("password_reset", "changed");
    assert_eq!(reset[0].subject.as_deref(), Some(oid.as_str()));

    // Who and from where: every journey event has the tenant, the client, its user agent and
    // the journey's correlation id (the revocation happens at /token, outside any journey).
    for r in all.iter().filter(|r| r.kind != "token_family_revoked") {
        assert_eq!(r.tenant.as_deref(), Some("contoso"), "{r:?}");
        assert_eq!(r.ip.as_deref(), Some("127.0.0.1"), "{r:?}");
        assert_eq!(r.user_agent.as_deref(), Some(AGENT), "{r:?}");
        assert!(
            r.correlation_id.as_deref().is_some_and(|c| c.len() >= 32),
            "{r:?}"
        );
    }
    // A code's address is named by a hash only.
    let hashes: Vec<_> = of_kind(&all, "code_sent", "sent")
        .iter()
        .map(|r| {
            r.detail["addressHash"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(
        hashes.iter().all(|h| h.len() == 32 && h == &hashes[0]),
        "{hashes:?}"
    );

    // Never a secret, nor an address.
    let text = serde_json::to_string(&all)
        .unwrap_or_default()
        .to_lowercase();
    for secret in [
        PASSWORD,
        wrong_password,
        new_password,
        &code,
        &refresh,
        &email,
        &nobody,
        email.split('@').next().unwrap_or_default(),
    ] {
        assert!(
            !text.contains(&secret.to_lowercase()),
            "the audit log holds {secret}"
        );
    }
}

/// Housekeeping deletes records past `[audit] retention_days` and keeps the others.
#[tokio::test]
async fn audit_records_past_their_retention_are_purged() {
    let app = spawn_app("[audit]\nretention_days = 30").await;
    let tenant = &app.state.tenants[0];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    for (kind, days_ago) in [("old", 31), ("recent", 29)] {
        let record = AuditRecord {
            at: now - days_ago * 86_400,
            kind: kind.into(),
            outcome: "x".into(),
            ..AuditRecord::default()
        };
        tenant
            .store
            .append_audit(&record)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    trustframe_server::purge(tenant).await;
    let kinds: Vec<_> = records(&app).await.into_iter().map(|r| r.kind).collect();
    assert_eq!(kinds, ["recent"]);
}
